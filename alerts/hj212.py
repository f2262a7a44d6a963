"""HJ 212-2017, how monitoring equipment transmits its data (STANDARDS.md "HJ 212-2017"). Pure.

A frame on the wire is

    ## + 4-digit length + data segment + 4 hex digits CRC + CR LF
    data segment: QN=..;ST=..;CN=..;PW=..;MN=..;Flag=..;[PNUM=..;PNO=..;]CP=&&...&&

`parse` turns one frame into a `Packet` or raises `PacketError` naming what was wrong and where;
`build` and the reply helpers make frames; `readings` reads the pollutant values out of a data
packet; `FrameSplitter` cuts a TCP byte stream into frames; `Reassembler` joins split packets
(Flag D bit, PNUM/PNO). No Flask, no database, no sockets.

Strict by default, as the standard reads. Two field habits pass only with `lenient=True` (a
per-station setting): a CRC-16/MODBUS in place of the annex A CRC, and a data segment longer than
1024 bytes. HJ/T 212-2005 style packets (no QN, no Flag) pass in both modes, noted in `tolerated`.
The 2025 edition (version bits 000010) is recognised and refused: its text was not available.
"""

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

MAX_SEGMENT = 1024  # bytes of data segment the standard allows in one packet
CRLF = b"\r\n"
HEADER_FIELDS = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")
REQUIRED_FIELDS = ("ST", "CN", "PW", "MN")

# The version bits V5..V0 (Flag bits 7..2) of each edition.
VERSION_2005 = 0
VERSION_2017 = 1
VERSION_2025 = 2

# Codes of the errors a lenient parse may overcome: the receiver parses strictly first, and only
# for these looks up the station to learn whether it is lenient.
LENIENT_CODES = frozenset({"crc", "too_long"})

# CN of the data uploads that carry readings, with what each holds.
DATA_CNS = {
    "2011": "real-time data",
    "2051": "minute data",
    "2061": "hourly data",
    "2031": "daily data",
}
READING_KINDS = ("Rtd", "Avg", "Min", "Max", "Cou")

# System interaction (ST=91) replies of the receiving platform.
ST_SYSTEM = "91"
CN_REQUEST_REPLY = "9011"
CN_EXECUTION_RESULT = "9012"
CN_NOTICE_REPLY = "9013"
CN_DATA_REPLY = "9014"

# Pollutant codes of ambient air; a05024 (O3) and a99054 (TVOC) are field practice, not the
# 2017 table.
POLLUTANT_CODES = {
    "a34004": "PM2.5",
    "a34002": "PM10",
    "a21026": "SO2",
    "a21004": "NO2",
    "a21005": "CO",
    "a05024": "O3",
    "a21002": "NOx",
    "a34001": "TSP",
    "a01001": "temperature",
    "a01002": "humidity",
    "a01006": "pressure",
    "a01007": "wind speed",
    "a01008": "wind direction",
    "a99054": "TVOC",
}

# Data flags (the `-Flag` field); only N counts as a valid measurement.
DATA_FLAGS = {
    "N": "normal",
    "F": "stopped",
    "M": "maintenance",
    "S": "manual value",
    "D": "fault",
    "C": "calibration",
    "T": "above the measuring limit",
    "B": "communication failure",
}

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_MN = re.compile(r"[0-9A-Za-z_-]{1,24}")
_SEPARATORS = (";", ",", "=", "&")
_SEPARATOR = re.compile("[;,=&]")
_HEX4 = re.compile(rb"[0-9A-Fa-f]{4}")
_FIELD_FORMS = (
    ("ST", re.compile(r"\d{2}")),
    ("CN", re.compile(r"\d{4}")),
    ("QN", re.compile(r"\d{1,20}")),
)
_DATA_TIME = re.compile(r"\d{14}")


class PacketError(ValueError):
    """A frame or packet that does not follow the standard.

    `reason` says in words what was wrong and where; `code` is a short machine name for counting
    (framing, length, truncated, crlf, crc, too_long, encoding, field, missing, flag, version, cp,
    value, split); `data` holds the offending bytes when there are some (garbage, a cut frame).
    """

    def __init__(self, reason: str, code: str = "packet", data: bytes = b"") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.data = data


@dataclass(frozen=True)
class Packet:
    """One parsed packet. Fields are strings as sent, None when absent.

    `cp` flattens every CP item into one mapping (a later duplicate name overrides an earlier
    one): enough for commands and replies, whose CP is one item. Data packets hold one item per
    pollutant (and DataTime), so read those through `cp_items` or `readings`.
    """

    qn: str | None
    st: str
    cn: str
    pw: str
    mn: str
    flag: int | None
    pnum: str | None
    pno: str | None
    cp: dict[str, str]
    cp_items: list[dict[str, str]]
    data_segment: str
    tolerated: tuple[str, ...] = ()

    @property
    def needs_reply(self) -> bool:
        """Flag bit A: the sender waits for a reply."""
        return self.flag is not None and bool(self.flag & 1)

    @property
    def split(self) -> bool:
        """Flag bit D: one part of a message split over PNUM packets (2005 style: PNUM sent)."""
        if self.flag is None:
            return self.pnum is not None
        return bool(self.flag & 2)

    @property
    def version(self) -> int:
        """Flag bits V5..V0: 1 for HJ 212-2017; 0 for HJ/T 212-2005 and a packet without Flag."""
        return 0 if self.flag is None else self.flag >> 2


@dataclass(frozen=True)
class Reading:
    """One value of one pollutant at one time, from a data packet."""

    code: str  # the pollutant code, a34004 (see POLLUTANT_CODES)
    kind: str  # Rtd, Avg, Min, Max or Cou
    value: float
    flag: str  # the data flag, "N" when the packet gives none
    at: datetime  # DataTime, naive: the station's local time (the caller applies the zone)

    @property
    def valid(self) -> bool:
        """Only N data counts as a valid measurement."""
        return self.flag == "N"


# --- CRC ---------------------------------------------------------------------------------------


def _annex_a_table() -> tuple[int, ...]:
    """Annex A's eight shifts of the register, for each value it can hold before them: after
    `crc = (crc >> 8) ^ byte` that is 0 to 255."""
    table = []
    for value in range(256):
        crc = value
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0xA001
        table.append(crc)
    return tuple(table)


_ANNEX_A = _annex_a_table()


def crc16(data: bytes) -> int:
    """The CRC of annex A over `data` (the data segment). Not CRC-16/MODBUS: each byte is XORed
    into the register after shifting out its high byte. The eight shifts per byte come from a
    table: the bit loop cost the receiver half a millisecond per packet."""
    crc = 0xFFFF
    table = _ANNEX_A
    for byte in data:
        crc = table[(crc >> 8) ^ byte]
    return crc


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS, which some field equipment sends in place of the annex A CRC."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0xA001
    return crc


def _swap(value: int) -> int:
    return ((value & 0xFF) << 8) | (value >> 8)


# --- parsing -----------------------------------------------------------------------------------


def parse(packet: bytes | str, lenient: bool = False) -> Packet:
    """One complete frame, from `##` to the closing CR LF, as a Packet; PacketError otherwise.

    `lenient` accepts a CRC-16/MODBUS (either byte order) and a data segment over 1024 bytes, and
    says so in `tolerated`.
    """
    frame = packet.encode("utf-8") if isinstance(packet, str) else bytes(packet)
    tolerated: list[str] = []
    if not frame.startswith(b"##"):
        raise PacketError(f"frame does not start with ##: {frame[:20]!r}", "framing", frame)
    length_field = frame[2:6]
    if len(length_field) < 4 or not length_field.isdigit():
        raise PacketError(
            f"length field after ## is not 4 decimal digits: {length_field!r}", "length", frame
        )
    length = int(length_field)
    if length > MAX_SEGMENT:
        if not lenient:
            raise PacketError(
                f"data segment of {length} bytes is over the {MAX_SEGMENT} the standard allows",
                "too_long",
                frame,
            )
        tolerated.append(f"data segment of {length} bytes, over the {MAX_SEGMENT} allowed")
    if not frame.endswith(CRLF):
        if len(frame) < 6 + length + 4:
            raise PacketError(
                f"frame truncated: header says {length} bytes of data segment, "
                f"only {max(len(frame) - 6, 0)} bytes follow it and no CR LF",
                "truncated",
                frame,
            )
        raise PacketError(f"no CR LF at the end of the frame: ends {frame[-6:]!r}", "crlf", frame)
    body = frame[6:-2]
    segment, crc_text = body[:-4], body[-4:]
    if len(body) < 4:
        raise PacketError(f"frame too short for a CRC: {frame!r}", "truncated", frame)
    if len(segment) != length:
        raise PacketError(
            f"length mismatch: header says {length}, data segment is {len(segment)} bytes",
            "length",
            frame,
        )
    _check_crc(segment, crc_text, lenient, tolerated, frame)
    try:
        text = segment.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = segment[error.start : error.start + 4]
        raise PacketError(
            f"data segment is not UTF-8 (byte {error.start}: {bad!r})",
            "encoding",
            frame,
        ) from None
    return _parse_segment(text, tolerated, frame)


def _check_crc(
    segment: bytes, crc_text: bytes, lenient: bool, tolerated: list[str], frame: bytes
) -> None:
    """The 4 hex digits (either case) against annex A; lenient also against CRC-16/MODBUS."""
    if not _HEX4.fullmatch(crc_text):
        raise PacketError(f"CRC is not 4 hex digits: {crc_text!r}", "crc", frame)
    sent = int(crc_text, 16)
    expected = crc16(segment)
    if sent == expected:
        return
    if lenient:
        modbus = crc16_modbus(segment)
        if sent == _swap(modbus):
            tolerated.append(f"CRC-16/MODBUS written low byte first ({sent:04X})")
            return
        if sent == modbus:
            tolerated.append(f"CRC-16/MODBUS written high byte first ({sent:04X})")
            return
    raise PacketError(
        f"CRC mismatch: packet says {crc_text.decode('ascii').upper()}, "
        f"data segment computes {expected:04X}",
        "crc",
        frame,
    )


def _parse_segment(text: str, tolerated: list[str], frame: bytes) -> Packet:
    cp_at = text.find("CP=")
    while cp_at > 0 and text[cp_at - 1] != ";":
        cp_at = text.find("CP=", cp_at + 1)
    if cp_at < 0:
        raise PacketError("no CP field: the data segment must end with CP=&&...&&", "cp", frame)
    header = _parse_header(text[:cp_at], frame)
    cp_items = _parse_cp(text[cp_at + 3 :], frame)

    for name in REQUIRED_FIELDS:
        if not header.get(name):
            raise PacketError(f"required field {name} is missing or empty", "missing", frame)
    for name, pattern in _FIELD_FORMS:
        if name in header and not pattern.fullmatch(header[name]):
            raise PacketError(f"{name} is malformed: {header[name]!r}", "field", frame)
    if not _MN.fullmatch(header["MN"]):
        raise PacketError(
            f"MN is malformed (letters and digits, at most 24): {header['MN']!r}", "field", frame
        )

    flag = _parse_flag(header.get("Flag"), frame)
    if "QN" not in header:
        tolerated.append("no QN (HJ/T 212-2005 style)")
    if flag is None:
        tolerated.append("no Flag (HJ/T 212-2005 style)")
    elif flag >> 2 == VERSION_2005:
        tolerated.append("Flag version bits 000000 (HJ/T 212-2005)")

    pnum, pno = header.get("PNUM"), header.get("PNO")
    split = bool(flag & 2) if flag is not None else pnum is not None
    if split:
        if pnum is None or pno is None:
            raise PacketError("split packet (Flag D bit) without PNUM and PNO", "missing", frame)
        if not (pnum.isdigit() and pno.isdigit() and 1 <= int(pno) <= int(pnum)):
            raise PacketError(
                f"PNUM/PNO malformed: PNUM={pnum!r}, PNO={pno!r} (want 1 <= PNO <= PNUM)",
                "field",
                frame,
            )
    elif pnum is not None or pno is not None:
        raise PacketError("PNUM/PNO given but the Flag D bit is not set", "flag", frame)

    flat: dict[str, str] = {}
    for item in cp_items:
        flat.update(item)
    return Packet(
        qn=header.get("QN"),
        st=header["ST"],
        cn=header["CN"],
        pw=header["PW"],
        mn=header["MN"],
        flag=flag,
        pnum=pnum,
        pno=pno,
        cp=flat,
        cp_items=cp_items,
        data_segment=text,
        tolerated=tuple(tolerated),
    )


def _parse_header(text: str, frame: bytes) -> dict[str, str]:
    """The fields before CP, in any order (devices differ), each once."""
    if not text:
        return {}
    if not text.endswith(";"):
        raise PacketError(f"no ; before CP: {text[-20:]!r}", "field", frame)
    header: dict[str, str] = {}
    for position, field in enumerate(text[:-1].split(";"), start=1):
        name, equals, value = field.partition("=")
        if not equals:
            raise PacketError(f"header field {position} has no '=': {field!r}", "field", frame)
        if name not in HEADER_FIELDS:
            raise PacketError(f"unknown header field {name!r} (field {position})", "field", frame)
        if name in header:
            raise PacketError(f"header field {name} appears twice", "field", frame)
        if _SEPARATOR.search(value):
            raise PacketError(f"header field {name} holds a separator: {value!r}", "field", frame)
        header[name] = value
    return header


def _parse_flag(value: str | None, frame: bytes) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or int(value) > 255:
        raise PacketError(f"Flag is not a number from 0 to 255: {value!r}", "flag", frame)
    flag = int(value)
    version = flag >> 2
    if version == VERSION_2025:
        raise PacketError(
            f"Flag={flag} has version bits 000010: the HJ 212-2025 edition, "
            "which this receiver does not implement",
            "version",
            frame,
        )
    if version not in (VERSION_2005, VERSION_2017):
        raise PacketError(
            f"Flag={flag} has version bits {version:06b}, no known edition of HJ 212",
            "version",
            frame,
        )
    return flag


def _parse_cp(text: str, frame: bytes) -> list[dict[str, str]]:
    """CP=&&name=value,name=value;name=value&&: `;` between items, `,` between fields.

    Empty items and fields (a trailing `;` or `,`) are skipped: harmless, and common.
    """
    if not text.startswith("&&"):
        raise PacketError(f"CP does not start with &&: {('CP=' + text)[:40]!r}", "cp", frame)
    if len(text) < 4 or not text.endswith("&&"):
        raise PacketError(f"CP does not end with &&: {('CP=' + text)[-40:]!r}", "cp", frame)
    inner = text[2:-2]
    if "&&" in inner:
        raise PacketError(f"&& inside CP: {inner[:40]!r}", "cp", frame)
    items: list[dict[str, str]] = []
    for item_number, item_text in enumerate(inner.split(";"), start=1):
        item: dict[str, str] = {}
        for field in item_text.split(","):
            if not field:
                continue
            name, equals, value = field.partition("=")
            if not equals or not name:
                raise PacketError(
                    f"CP field without 'name=': {field!r} (item {item_number})", "cp", frame
                )
            if name in item:
                raise PacketError(
                    f"CP field {name} appears twice in item {item_number}", "cp", frame
                )
            item[name] = value
        if item:
            items.append(item)
    return items


# --- readings ----------------------------------------------------------------------------------


def readings(packet: Packet) -> list[Reading]:
    """The pollutant values of a data packet (DATA_CNS), in packet order; [] for other CNs.

    Each value takes the DataTime of its own item, else of the nearest item before it, else the
    first DataTime of the packet. The flag is the item's `code-Flag`, "N" without one. Fields
    other than code-Rtd/Avg/Min/Max/Cou (ZsRtd, equipment codes, ...) are left out.
    """
    if packet.cn not in DATA_CNS:
        return []
    first_time = next((item["DataTime"] for item in packet.cp_items if "DataTime" in item), None)
    current = first_time
    result: list[Reading] = []
    times: dict[str, datetime] = {}  # each DataTime read once (strptime is slow)
    for item in packet.cp_items:
        current = item.get("DataTime", current)
        for name, value in item.items():
            code, dash, kind = name.rpartition("-")
            if not dash or not code or kind not in READING_KINDS:
                continue
            if current is None:
                raise PacketError(f"{name} has no DataTime in the packet", "cp")
            if not _NUMBER.fullmatch(value):
                raise PacketError(f"{name} is not a number: {value!r}", "value")
            at = times.get(current)
            if at is None:
                at = times[current] = _data_time(current)
            result.append(
                Reading(
                    code=code,
                    kind=kind,
                    value=float(value),
                    flag=item.get(f"{code}-Flag") or "N",
                    at=at,
                )
            )
    return result


def _data_time(value: str) -> datetime:
    """YYYYMMDDhhmmss (what strptime's %Y%m%d%H%M%S reads of 14 digits, at a tenth of its
    cost)."""
    if not _DATA_TIME.fullmatch(value):
        raise PacketError(f"DataTime is not YYYYMMDDhhmmss: {value!r}", "value")
    try:
        return datetime(
            int(value[:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12]),
            int(value[12:14]),
        )
    except ValueError:
        raise PacketError(f"DataTime is not a real time: {value!r}", "value") from None


# --- building ----------------------------------------------------------------------------------

CpArgument = Mapping[str, object] | Iterable[Mapping[str, object]] | str


def build(
    st: str,
    cn: str,
    pw: str,
    mn: str,
    cp: CpArgument = "",
    qn: str | None = None,
    flag: int | None = None,
    pnum: int | str | None = None,
    pno: int | str | None = None,
) -> bytes:
    """A complete frame: ## + length + data segment + CRC (upper-case hex) + CR LF.

    `cp` is one item as a mapping (fields joined by `,`), several items as a list of mappings
    (joined by `;`), or the text between the && marks (a text that keeps its && is taken as
    meant). Fields left None (QN, Flag, PNUM, PNO) are left out. ValueError for a value that
    holds a separator or a segment over 1024 bytes.
    """
    fields = [("QN", qn), ("ST", st), ("CN", cn), ("PW", pw), ("MN", mn), ("Flag", flag)]
    fields += [("PNUM", pnum), ("PNO", pno)]
    header = ""
    for name, value in fields:
        if value is None:
            continue
        text = str(value)
        if any(separator in text for separator in _SEPARATORS):
            raise ValueError(f"{name} holds a separator: {text!r}")
        header += f"{name}={text};"
    segment = f"{header}CP=&&{_cp_text(cp)}&&".encode()
    if len(segment) > MAX_SEGMENT:
        raise ValueError(
            f"data segment of {len(segment)} bytes is over {MAX_SEGMENT}: split it (PNUM/PNO)"
        )
    return b"##%04d%s%04X\r\n" % (len(segment), segment, crc16(segment))


def _cp_text(cp: CpArgument) -> str:
    if isinstance(cp, str):
        if len(cp) >= 4 and cp.startswith("&&") and cp.endswith("&&"):
            return cp[2:-2]
        return cp
    items = [cp] if isinstance(cp, Mapping) else list(cp)
    parts = []
    for item in items:
        fields = []
        for name, value in item.items():
            text = f"{name}={value}"
            if any(separator in text for separator in (";", ",", "&")) or text.count("=") != 1:
                raise ValueError(f"CP field holds a separator: {text!r}")
            fields.append(text)
        parts.append(",".join(fields))
    return ";".join(parts)


def _reply(packet: Packet, cn: str, cp: str) -> bytes:
    """A reply in the sender's dialect: QN echoed, same PW and MN, Flag with the sender's version
    bits and neither A nor D (4 for a 2017 sender); no Flag to a sender that sent none."""
    flag = None if packet.flag is None else packet.version << 2
    return build(ST_SYSTEM, cn, packet.pw, packet.mn, cp, qn=packet.qn, flag=flag)


def data_reply(packet: Packet) -> bytes:
    """CN=9014, the data reply: `QN=<echoed>;ST=91;CN=9014;PW=..;MN=..;Flag=4;CP=&&&&`."""
    return _reply(packet, CN_DATA_REPLY, "")


def request_reply(packet: Packet, qn_rtn: int = 1) -> bytes:
    """CN=9011, the reply to a request: QnRtn 1 accepted, 2 refused, 3 PW wrong, 4 MN wrong,
    5 ST wrong, 6 Flag wrong, 7 QN wrong, 8 CN wrong, 9 CRC wrong, 100 unknown."""
    return _reply(packet, CN_REQUEST_REPLY, f"QnRtn={qn_rtn}")


def execution_result(packet: Packet, exe_rtn: int = 1) -> bytes:
    """CN=9012, the result of executing a request: ExeRtn 1 succeeded, 2 failed, 100 unknown."""
    return _reply(packet, CN_EXECUTION_RESULT, f"ExeRtn={exe_rtn}")


# --- the byte stream ---------------------------------------------------------------------------


class FrameSplitter:
    """Cuts a TCP byte stream into frames (each from ## to CR LF, ready for `parse`).

    A frame ends where its length header says, if CR LF is there. Otherwise the frame is cut at
    the first CR LF (parse then names the length mismatch), or dropped as truncated when a new ##
    comes first. Bytes before a ## are garbage: reported once per run, then skipped. `feed`
    returns frames and PacketErrors in stream order; `buffered` is what waits for more bytes.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._skipping = False  # after a reported error, the rest up to the next ## is dropped

    @property
    def buffered(self) -> int:
        """Bytes held that are not yet a complete frame."""
        return len(self._buffer)

    @property
    def in_frame(self) -> bool:
        """A frame has started (its ## arrived) and is not complete yet."""
        return self._buffer.startswith(b"##")

    def pending_bytes(self) -> bytes:
        """The bytes held (the start of a frame), for a log line."""
        return bytes(self._buffer)

    def feed(self, data: bytes) -> list[bytes | PacketError]:
        """Frames (bytes) and errors (garbage, cut frames) completed by `data`."""
        self._buffer += data
        out: list[bytes | PacketError] = []
        while self._buffer:
            buffer = self._buffer
            start = buffer.find(b"##")
            while start >= 0 and buffer[start + 2 : start + 3] == b"#":
                start += 1  # of ###, the last two begin the frame
            if start != 0:
                # keep a last "#": it may be the first half of ##
                drop = len(buffer) - (1 if buffer.endswith(b"#") else 0) if start < 0 else start
                if drop:
                    self._garbage(drop, out)
                if start < 0:
                    break
                continue
            if len(buffer) < 6:
                break
            length_field = bytes(buffer[2:6])
            if not length_field.isdigit():
                out.append(
                    PacketError(
                        f"length field after ## is not 4 decimal digits: {length_field!r}",
                        "length",
                        bytes(buffer[:200]),
                    )
                )
                del buffer[:2]
                self._skipping = True
                continue
            end = 6 + int(length_field) + 4  # where CR LF should be
            if buffer[end : end + 2] == CRLF:
                out.append(bytes(buffer[: end + 2]))
                del buffer[: end + 2]
                self._skipping = False
                continue
            crlf = buffer.find(CRLF, 6)
            following = buffer.find(b"##", 2)
            if following >= 0 and (crlf < 0 or following < crlf):
                cut = bytes(buffer[:following])
                if following < end + 2:
                    reason = (
                        f"frame truncated after {following} bytes (header says a data segment"
                        f" of {int(length_field)}): a new ## began"
                    )
                    out.append(PacketError(reason, "truncated", cut))
                else:
                    reason = f"no CR LF at the end of the frame before the next ##: {cut[-8:]!r}"
                    out.append(PacketError(reason, "crlf", cut))
                del buffer[:following]
                self._skipping = False
                continue
            if crlf >= 0:
                out.append(bytes(buffer[: crlf + 2]))
                del buffer[: crlf + 2]
                self._skipping = False
                continue
            break
        return out

    def _garbage(self, count: int, out: list[bytes | PacketError]) -> None:
        dropped = bytes(self._buffer[:count])
        del self._buffer[:count]
        if not self._skipping:
            out.append(PacketError(f"garbage before ##: {count} bytes", "framing", dropped[:200]))
            self._skipping = True


# --- split packets -----------------------------------------------------------------------------


@dataclass
class _Pending:
    parts: dict[int, Packet]
    pnum: int
    last_seen: float


class Reassembler:
    """Joins the parts of split packets (Flag D bit) of one message, keyed by (MN, QN).

    `add` returns an unsplit packet at once, a whole message when its last part arrives (CP items
    of PNO 1..PNUM in order), None while parts are missing. A repeated PNO replaces the earlier
    one (a resend). Sets with no new part for `timeout` seconds are dropped; so are the oldest
    when more than `max_pending` sets wait.
    """

    def __init__(
        self,
        timeout: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        max_pending: int = 1000,
    ) -> None:
        self.timeout = timeout
        self.clock = clock
        self.max_pending = max_pending
        self._pending: dict[tuple[str, str | None], _Pending] = {}

    @property
    def pending(self) -> int:
        """Messages with parts still missing."""
        return len(self._pending)

    def expire(self) -> list[tuple[str, str | None]]:
        """Drop the sets that waited too long; their (MN, QN) keys."""
        now = self.clock()
        stale = [key for key, set_ in self._pending.items() if now - set_.last_seen > self.timeout]
        for key in stale:
            del self._pending[key]
        return stale

    def add(self, packet: Packet) -> Packet | None:
        """The packet itself if unsplit, the joined message once complete, else None.

        PacketError (code "split") when a part disagrees with the others on PNUM or CN; the set
        is dropped."""
        self.expire()
        if not packet.split:
            return packet
        if not (packet.pnum or "").isdigit() or not (packet.pno or "").isdigit():
            raise PacketError("split packet without numeric PNUM and PNO", "split")
        key = (packet.mn, packet.qn)
        pnum, pno = int(packet.pnum or 0), int(packet.pno or 0)
        pending = self._pending.get(key)
        if pending is None:
            while len(self._pending) >= self.max_pending:
                del self._pending[next(iter(self._pending))]
            pending = self._pending[key] = _Pending({}, pnum, self.clock())
        first = next(iter(pending.parts.values()), packet)
        if pnum != pending.pnum or packet.cn != first.cn:
            del self._pending[key]
            raise PacketError(
                f"split packet PNO={pno} says PNUM={pnum} CN={packet.cn}, earlier parts "
                f"PNUM={pending.pnum} CN={first.cn}",
                "split",
            )
        pending.parts[pno] = packet
        pending.last_seen = self.clock()
        if len(pending.parts) < pnum:
            return None
        del self._pending[key]
        return _join([pending.parts[number] for number in range(1, pnum + 1)])


def _join(parts: list[Packet]) -> Packet:
    """One packet from the parts in order: header of PNO 1 without D bit, PNUM and PNO; the data
    segments one per line; what each part tolerated."""
    first = parts[0]
    items = [dict(item) for part in parts for item in part.cp_items]
    flat: dict[str, str] = {}
    for item in items:
        flat.update(item)
    tolerated: list[str] = []
    for part in parts:
        tolerated += [note for note in part.tolerated if note not in tolerated]
    return replace(
        first,
        flag=None if first.flag is None else first.flag & ~2,
        pnum=None,
        pno=None,
        cp=flat,
        cp_items=items,
        data_segment="\n".join(part.data_segment for part in parts),
        tolerated=tuple(tolerated),
    )
