"""`kuavo serve`: a checkpoint behind the competition kit's ZeroMQ policy protocol (client mode).

api.run_server (load + serve), server.PolicyServer (the safe REP loop), policy.ServedPolicy (the lerobot side),
dropin_client (the self-contained PolicyClient the kit imports).
"""
