"""`kuavo export`: a checkpoint as a lerobot bundle, the kit layout, ONNX, TorchScript or a submission package."""
