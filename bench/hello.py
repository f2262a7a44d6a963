"""The bare baseline: a Flask app with one "hello" route, served exactly like the real app."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "hello"
