"""`kit_diffusion`: a Diffusion policy with the network the competition kit's `CustomDiffusionPolicyWrapper`
builds, so a kuavo-trained policy loads in the kit's own process (see docs/export.md).

lerobot finds the policy, its config and its processors by the module names it derives from the config class's
module (`configuration_*` -> `modeling_*`, `processor_*`), so these three modules keep those names.
"""
