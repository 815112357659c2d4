"""Get exactly the data you need from the hub: list, plan (filters, episodes), download with resume + verify.

Everything goes through `huggingface_hub` (HfApi.repo_info / list_repo_tree, hf_hub_download), so tokens
(`hf auth login`, HF_TOKEN), mirrors (HF_ENDPOINT), the cache (HF_HUB_CACHE) and offline mode behave as usual.
`kuavo_cli.hub.api` holds the entry points (`make_request`, `run_download`).
"""
