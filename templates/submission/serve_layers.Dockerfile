# ---- client mode: the policy runs in `kuavo serve` (Python 3.12 + lerobot 0.6.1) beside the kit's env ----
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
COPY kuavo_submission/serve/ /opt/kuavo-serve/
ENV UV_PYTHON_INSTALL_DIR=/opt/kuavo-serve/python
RUN uv venv --python 3.12 /opt/kuavo-serve/venv \
    && uv pip install --python /opt/kuavo-serve/venv/bin/python -r /opt/kuavo-serve/requirements.txt \
    && PYTHONPATH=/opt/kuavo-serve/src /opt/kuavo-serve/venv/bin/python -m kuavo_cli serve --help >/dev/null
ENV HF_HUB_OFFLINE=1 KUAVO_SERVE_HOST=127.0.0.1 KUAVO_SERVE_PORT=5555 KUAVO_SERVE_DEVICE=auto \
    KUAVO_SERVE_TOKEN_FILE=/run/kuavo_serve.token KUAVO_SERVE_LOG=/var/log/kuavo_serve.log
ENTRYPOINT ["/root/kuavo_data_challenge/kuavo_submission/entrypoint.sh"]
