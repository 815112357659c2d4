#!/bin/sh
# Build the submission image and write the archive to upload: @@ZIP_NAME@@ = @@IMAGE_NAME@@.tar + run_with_gpu.sh.
# Usage: ./build_submission.sh PATH_TO_KIT_CHECKOUT     (run it in this folder, on a machine with Docker)
set -eu
cd "$(dirname "$0")"
KIT="${1:-}"
IMAGE_NAME="@@IMAGE_NAME@@"
ZIP_NAME="@@ZIP_NAME@@"

if [ -z "${KIT}" ] || [ ! -d "${KIT}/kuavo_deploy" ]; then
    echo "Usage: $0 PATH_TO_KIT_CHECKOUT  (a checkout of LejuRobotics/kuavo_data_challenge with myenv.tar.gz)" >&2
    exit 2
fi
if [ ! -f "${KIT}/myenv.tar.gz" ]; then
    echo "Error: ${KIT}/myenv.tar.gz missing: conda pack -n <env> --ignore-editable-packages -o myenv.tar.gz" >&2
    exit 2
fi
docker info >/dev/null 2>&1 || { echo "Error: no Docker engine reachable (docker info failed)" >&2; exit 1; }

rm -rf kit && mkdir kit
# The kit without its git history and without any other model sets in outputs/.
(cd "${KIT}" && tar --exclude=./.git --exclude=./outputs -cf - .) | (cd kit && tar -xf -)

docker build -t "${IMAGE_NAME}" .
docker save -o "${IMAGE_NAME}.tar" "${IMAGE_NAME}:latest"
rm -f "${ZIP_NAME}"
python3 -m zipfile -c "${ZIP_NAME}" "${IMAGE_NAME}.tar" run_with_gpu.sh
echo "Wrote ${ZIP_NAME} (${IMAGE_NAME}.tar + run_with_gpu.sh): upload this file."
