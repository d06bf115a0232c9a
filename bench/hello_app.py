"""The ceiling for bench/load.py: a bare Flask app served by the same gunicorn settings as the site."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    """Answer with a constant: what gunicorn plus Flask cost with no work at all."""
    return "hello"


@app.get("/healthz")
def healthz():
    """Answer the readiness probe the benchmark's server start-up waits for."""
    return "ok"
