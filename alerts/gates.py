"""Several HJ 212 gates behind one receiver: the stations' (alerts.hj212_ingest.DatabaseGate)
and those other domains registered (alerts.registry.HJ212_GATES).

The router asks each gate in turn for the MN, first the stations': the first that knows it
and accepts the password is the sender's gate, and the receiver is handed the key
(gate number, that gate's key), so `store` goes back to the same gate. `recall` keeps the
receiver's promise (never blocks): a gate that would have to read the database says MISS, and
the router says MISS too, so that `authenticate` asks the gates on a thread. A gate without
`recall` counts as one that always says MISS. Standard library only."""

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

from alerts.hj212 import Packet
from alerts.receiver import MISS, Miss


@dataclass(frozen=True)
class Routed:
    """A sender as the receiver sees it: `key` is (gate number, the gate's key)."""

    key: tuple[int, Any]
    lenient: bool


class Router:
    """The receiver's `authenticate`, `recall`, `store` and `close` over several gates."""

    def __init__(self, gates: list[Any]) -> None:
        self.gates = gates

    def authenticate(self, mn: str, pw: str) -> Routed | None:
        for number, gate in enumerate(self.gates):
            found = gate.authenticate(mn, pw)
            if found is not None:
                return Routed((number, found.key), found.lenient)
        return None

    def recall(self, mn: str, pw: str) -> Routed | None | Literal[Miss.MISS]:
        for number, gate in enumerate(self.gates):
            recall = getattr(gate, "recall", None)
            found = MISS if recall is None else recall(mn, pw)
            if found is MISS:
                return MISS
            if found is not None:
                return Routed((number, found.key), found.lenient)
        return None

    def store(self, key: tuple[int, Any], packet: Packet) -> "Future[None]":
        number, inner = key
        return self.gates[number].store(inner, packet)

    def close(self) -> None:
        for gate in self.gates:
            gate.close()
