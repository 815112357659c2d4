"""The kit's client-mode deploy loop, for tests: run by any Python >= 3.10 with torch, pyzmq and lerobot.

    python kit_loop_script.py EXPORT_ROOT RUN_DIR OBS_FILE OUT_FILE

Does what kuavo_deploy/src/eval/sim_auto_test.py does with `policy_type: client` (written from its
documented behaviour, no kit code): imports PolicyClient from kuavo_deploy.kuavo_service.client under
EXPORT_ROOT, calls eval / to / reset / config.n_obs_steps, loads the processors with
make_pre_post_processors(None, RUN_DIR), then per episode reset and, per step,
postprocessor(policy.select_action(preprocessor(obs))). OBS_FILE holds a list of episodes (lists of
observation dicts); OUT_FILE gets the actions and what ran them.
"""

import sys

import torch


def main() -> int:
    root, run_dir, obs_file, out_file = sys.argv[1:5]
    sys.path.insert(0, root)
    import lerobot
    from kuavo_deploy.kuavo_service.client import PolicyClient
    from lerobot.policies.factory import make_pre_post_processors

    policy = PolicyClient()
    policy.eval()
    policy.to(torch.device("cpu"))
    policy.reset()
    n_obs_steps = policy.config.n_obs_steps
    preprocessor, postprocessor = make_pre_post_processors(None, run_dir)
    episodes = torch.load(obs_file, weights_only=True)
    actions = []
    for episode in episodes:
        policy.reset()
        for observation in episode:
            with torch.inference_mode():
                action = postprocessor(policy.select_action(preprocessor(observation)))
            actions.append(action.squeeze(0).cpu())
    policy.reset()
    torch.save(
        {
            "actions": torch.stack(actions),
            "n_obs_steps": n_obs_steps,
            "python": sys.version.split()[0],
            "lerobot": lerobot.__version__,
            "pre_steps": len(preprocessor.steps),
            "post_steps": len(postprocessor.steps),
        },
        out_file,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
