"""Micro-station alerts: stations and their readings (HTTP JSON and HJ 212), the national
standards as pure modules (aqi.py: HJ 633 and HJ 663; hj212.py: the transmission protocol),
the anomaly rules, and alerts with their 1-hour and 2-hour clocks."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Nothing to register yet: the models, routes and tasks come with the ingestion."""
