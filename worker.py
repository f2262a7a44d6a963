"""The task consumer's entry point: `huey_consumer worker.huey -k thread -w 4`.

It makes the app (so every domain's tasks are registered and run in its context) and hands
huey the queue that extensions.py configured from the environment."""

from app import create_app
from extensions import huey

app = create_app()

__all__ = ["app", "huey"]
