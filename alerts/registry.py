"""What domains above alerts plug into it: other kinds of HJ 212 sender for the receiver.

The stations are not the only devices that speak HJ 212: enterprises' CEMS (enforce.exceed)
send through the same receiver. A domain registers, from its `init_app`, a gate factory:
`make(app)` gives an object with `authenticate(mn, pw)`, `store(key, packet)` and `close()`,
and optionally `recall(mn, pw)` (alerts.receiver describes each). `flask alerts hj212-serve`
puts the stations' gate first and the registered ones after it, behind one router
(alerts.gates.Router), so a station's packet costs what it did."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from grid.registry import Registry


@dataclass(frozen=True)
class Hj212Gate:
    """A kind of HJ 212 sender: `make(app)` builds its gate for the receiver."""

    make: Callable[[Flask], Any]
    order: int = 100


HJ212_GATES: Registry[Hj212Gate] = Registry("alerts.hj212_gates")
