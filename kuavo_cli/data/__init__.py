"""Data: the Kuavo schema (`schema`), the synthetic dataset (`synthetic`), opening and checking a dataset
(`metadata`, `integrity`, `compat`: can datasets be combined), the training-side readers (`fast_reader`,
`batch`) and the decoded-frame cache (`frame_cache`: layout and reads, `frame_cache_build`,
`frame_cache_plan`, `frame_cache_resize`). Benchmarks are in kuavo_cli/bench/."""
