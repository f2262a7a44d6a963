"""HJ 212-2017 packets (STANDARDS.md "HJ 212-2017"): parse, build, replies, readings, the stream
splitter and split-packet reassembly. Expected CRCs come from the standard's published example and
from a reference written here, not from the module under test."""

from datetime import datetime

import pytest

from alerts import hj212
from alerts.hj212 import FrameSplitter, PacketError, Reading, Reassembler, build, parse, readings

# The example of the standard (its prose says 1C08: a typo; 1C80 is the CRC of this segment).
EXAMPLE_SEGMENT = (
    "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    "CP=&&RtdInterval=30&&"
)
EXAMPLE = f"##0101{EXAMPLE_SEGMENT}1C80\r\n".encode()
MN = "010000A8900016F000169DC0"
EXAMPLE_QN = "20160801085857223"


def reference_crc(data: bytes) -> int:
    """Annex A as the standard prints it, written again for the tests."""
    register = 0xFFFF
    for byte in data:
        register = (register >> 8) ^ byte
        for _ in range(8):
            register = (register >> 1) ^ (0xA001 if register & 1 else 0)
    return register


def reference_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF), its check value is 0x4B37."""
    register = 0xFFFF
    for byte in data:
        register ^= byte
        for _ in range(8):
            register = (register >> 1) ^ (0xA001 if register & 1 else 0)
    return register


def frame(segment: str, crc: str | None = None, length: int | None = None) -> bytes:
    """A frame around `segment` with a right length and CRC unless told otherwise."""
    data = segment.encode()
    crc = f"{reference_crc(data):04X}" if crc is None else crc
    length = len(data) if length is None else length
    return b"##%04d" % length + data + crc.encode() + b"\r\n"


def segment(
    cn="2061", cp="DataTime=20240105130000;a34004-Avg=35", flag="5", qn="20240105140001001"
):
    head = f"QN={qn};" if qn is not None else ""
    flag_field = f"Flag={flag};" if flag is not None else ""
    return f"{head}ST=22;CN={cn};PW=123456;MN=AQ0001;{flag_field}CP=&&{cp}&&"


# --- the standard's example ---------------------------------------------------------------------


def test_reference_crcs_are_right():
    assert reference_crc(EXAMPLE_SEGMENT.encode()) == 0x1C80
    assert reference_modbus(b"123456789") == 0x4B37  # the published check value


def test_crc16_of_the_example_is_1C80_not_modbus():
    assert hj212.crc16(EXAMPLE_SEGMENT.encode()) == 0x1C80
    assert hj212.crc16_modbus(b"123456789") == 0x4B37
    assert hj212.crc16(b"123456789") != 0x4B37
    second = segment().encode()
    assert hj212.crc16(second) == reference_crc(second)


def test_the_example_parses():
    packet = parse(EXAMPLE)
    assert packet.qn == "20160801085857223"
    assert (packet.st, packet.cn, packet.pw, packet.mn) == ("32", "1062", "100000", MN)
    assert packet.flag == 5
    assert packet.needs_reply
    assert packet.version == 1
    assert not packet.split
    assert (packet.pnum, packet.pno) == (None, None)
    assert packet.cp == {"RtdInterval": "30"}
    assert packet.cp_items == [{"RtdInterval": "30"}]
    assert packet.data_segment == EXAMPLE_SEGMENT
    assert packet.tolerated == ()
    assert parse(EXAMPLE.decode()) == packet  # text works as well as bytes


def test_build_gives_the_example_back():
    built = build("32", "1062", "100000", MN, {"RtdInterval": 30}, qn="20160801085857223", flag=5)
    assert built == EXAMPLE
    assert (
        build("32", "1062", "100000", MN, "&&RtdInterval=30&&", "20160801085857223", 5) == EXAMPLE
    )
    assert build("32", "1062", "100000", MN, "RtdInterval=30", "20160801085857223", 5) == EXAMPLE


def test_build_counts_utf8_bytes_and_groups_items():
    built = build("22", "2011", "123456", "AQ0001", [{"DataTime": "20240105130000"}, {"备注": "x"}])
    data = "ST=22;CN=2011;PW=123456;MN=AQ0001;CP=&&DataTime=20240105130000;备注=x&&".encode()
    assert built == frame(data.decode())
    assert built[2:6] == b"%04d" % len(data)
    assert parse(built).cp_items == [{"DataTime": "20240105130000"}, {"备注": "x"}]


@pytest.mark.parametrize(
    "arguments",
    [
        {"mn": "AQ;1"},
        {"cp": {"a": "1;b=2"}},
        {"cp": {"a": "1&&"}},
        {"cp": {"x": "y" * 1100}},
    ],
)
def test_build_refuses_what_would_not_parse(arguments):
    values = {"st": "22", "cn": "2011", "pw": "123456", "mn": "AQ0001"} | arguments
    with pytest.raises(ValueError):
        build(**values)


# --- replies -------------------------------------------------------------------------------------


def test_data_reply_echoes_qn_with_st_91_cn_9014_flag_4():
    reply = hj212.data_reply(parse(EXAMPLE))
    expected = f"QN=20160801085857223;ST=91;CN=9014;PW=100000;MN={MN};Flag=4;CP=&&&&"
    assert reply == frame(expected)
    packet = parse(reply)
    assert (packet.cn, packet.qn, packet.flag, packet.cp_items) == ("9014", EXAMPLE_QN, 4, [])
    assert not packet.needs_reply


def test_request_reply_and_execution_result():
    request = parse(EXAMPLE)
    assert parse(hj212.request_reply(request)).cp == {"QnRtn": "1"}
    assert parse(hj212.request_reply(request, qn_rtn=3)).cn == "9011"
    result = parse(hj212.execution_result(request, exe_rtn=2))
    assert (result.cn, result.st, result.cp, result.qn) == (
        "9012",
        "91",
        {"ExeRtn": "2"},
        request.qn,
    )


def test_a_reply_to_a_2005_style_packet_has_no_flag_and_no_qn():
    old = parse(frame(segment(qn=None, flag=None)))
    reply = parse(hj212.data_reply(old))
    assert (reply.qn, reply.flag) == (None, None)


# --- readings ------------------------------------------------------------------------------------

HOURLY_CP = (
    "DataTime=20240105130000;"
    "a34004-Avg=35.2,a34004-Min=20,a34004-Max=51.5,a34004-Flag=N;"
    "a34002-Avg=80,a34002-Flag=M;"
    "a21005-Avg=.8,a21005-ZsAvg=1.1;"
    "a01001-Avg=-3.5,a01001-Flag=D"
)


def test_hourly_packet_readings():
    packet = parse(frame(segment(cp=HOURLY_CP)))
    at = datetime(2024, 1, 5, 13, 0)
    assert readings(packet) == [
        Reading("a34004", "Avg", 35.2, "N", at),
        Reading("a34004", "Min", 20.0, "N", at),
        Reading("a34004", "Max", 51.5, "N", at),
        Reading("a34002", "Avg", 80.0, "M", at),
        Reading("a21005", "Avg", 0.8, "N", at),  # no flag: N; ZsAvg is not a reading kind
        Reading("a01001", "Avg", -3.5, "D", at),
    ]
    assert [reading.valid for reading in readings(packet)] == [True, True, True, False, True, False]
    assert hj212.POLLUTANT_CODES["a34004"] == "PM2.5"
    assert set(hj212.DATA_CNS) == {"2011", "2051", "2061", "2031"}


def test_real_time_readings_take_the_datatime_of_their_own_item():
    cp = "DataTime=20240105130000;a34004-Rtd=12;DataTime=20240105130030;a34004-Rtd=13"
    values = [(r.value, r.at.second) for r in readings(parse(frame(segment("2011", cp))))]
    assert values == [(12.0, 0), (13.0, 30)]


def test_only_data_packets_carry_readings():
    assert readings(parse(EXAMPLE)) == []


@pytest.mark.parametrize(
    ("cp", "detail"),
    [
        ("DataTime=20240105130000;a34004-Avg=abc", "a34004-Avg is not a number: 'abc'"),
        ("DataTime=20240105130000;a34004-Avg=nan", "'nan'"),
        ("DataTime=20240105130000;a34004-Avg=", "''"),
        ("DataTime=2024010513;a34004-Avg=1", "not YYYYMMDDhhmmss"),
        ("DataTime=20241305130000;a34004-Avg=1", "not a real time"),
        ("a34004-Avg=1", "no DataTime"),
    ],
)
def test_bad_values_in_readings_are_refused(cp, detail):
    with pytest.raises(PacketError) as caught:
        readings(parse(frame(segment(cp=cp))))
    assert detail in caught.value.reason


# --- 2005 style ----------------------------------------------------------------------------------


def test_a_2005_style_packet_without_qn_and_flag_is_accepted_and_noted():
    packet = parse(frame(segment(qn=None, flag=None)))
    assert (packet.qn, packet.flag, packet.version) == (None, None, 0)
    assert not packet.needs_reply and not packet.split
    assert packet.tolerated == ("no QN (HJ/T 212-2005 style)", "no Flag (HJ/T 212-2005 style)")
    assert len(readings(packet)) == 1


def test_flag_version_bits_000000_are_the_2005_edition():
    packet = parse(frame(segment(flag="1")))
    assert (packet.version, packet.needs_reply) == (0, True)
    assert "HJ/T 212-2005" in packet.tolerated[0]


# --- corruptions ---------------------------------------------------------------------------------

LONG_CP = ";".join(f"a34004-Rtd={index}" for index in range(90))  # 1100 bytes and more


def long_segment():
    text = segment(cp=f"DataTime=20240105130000;{LONG_CP}")
    assert len(text.encode()) > 1024
    return text


CORRUPTIONS = {
    "bad CRC": (EXAMPLE.replace(b"1C80", b"1C81"), "crc", ["1C81", "1C80"]),
    "CRC not hex": (EXAMPLE.replace(b"1C80", b"1G80"), "crc", ["not 4 hex digits"]),
    "wrong length": (
        frame(EXAMPLE_SEGMENT, length=103),
        "length",
        ["header says 103", "101 bytes"],
    ),
    "length not digits": (EXAMPLE.replace(b"0101", b"01a1"), "length", ["b'01a1'"]),
    "missing ## ": (EXAMPLE[1:], "framing", ["##"]),
    "garbage before ##": (b"xyz" + EXAMPLE, "framing", ["##", "xyz"]),
    "truncated": (EXAMPLE[:50], "truncated", ["header says 101", "44 bytes"]),
    "no CR LF": (EXAMPLE[:-2], "crlf", ["no CR LF"]),
    "only LF": (EXAMPLE[:-2] + b"\n", "crlf", ["no CR LF"]),
    "over-long": (frame(long_segment()), "too_long", [str(len(long_segment())), "1024"]),
    "CP without closing &&": (frame(segment(cp="a=1")[:-2]), "cp", ["does not end with &&"]),
    "CP without opening &&": (frame(segment().replace("CP=&&", "CP=")), "cp", ["start with &&"]),
    "no CP": (frame("ST=22;CN=2011;PW=1;MN=A1;Flag=4;"), "cp", ["no CP field"]),
    "CP field without =": (frame(segment(cp="DataTime")), "cp", ["'DataTime'", "item 1"]),
    "header field without =": (frame(EXAMPLE_SEGMENT.replace("ST=32", "ST32")), "field", ["ST32"]),
    "unknown header field": (frame("XX=1;" + EXAMPLE_SEGMENT), "field", ["'XX'"]),
    "CN not 4 digits": (frame(EXAMPLE_SEGMENT.replace("CN=1062", "CN=106")), "field", ["CN"]),
    "MN missing": (frame(EXAMPLE_SEGMENT.replace(f"MN={MN};", "")), "missing", ["MN"]),
    "PW missing": (frame(EXAMPLE_SEGMENT.replace("PW=100000;", "")), "missing", ["PW"]),
    "Flag not a number": (frame(segment(flag="x5")), "flag", ["'x5'"]),
    "2025 edition": (frame(segment(flag="9")), "version", ["000010", "2025"]),
    "unknown edition": (frame(segment(flag="13")), "version", ["000011"]),
    "split without PNUM": (frame(segment(flag="7")), "missing", ["PNUM"]),
    "PNO over PNUM": (frame(segment(flag="7").replace("CP=", "PNUM=2;PNO=3;CP=")), "field", []),
}


@pytest.mark.parametrize(("data", "code", "details"), CORRUPTIONS.values(), ids=CORRUPTIONS)
def test_corruptions_are_refused_with_their_reason(data, code, details):
    with pytest.raises(PacketError) as caught:
        parse(data)
    assert caught.value.code == code
    for detail in details:
        assert detail in caught.value.reason
    assert str(caught.value) == caught.value.reason


def test_a_segment_that_is_not_utf8_is_refused_after_its_crc():
    bad = EXAMPLE_SEGMENT.encode().replace(b"MN=0", b"MN=\xff")
    data = b"##0101" + bad + b"%04X\r\n" % reference_crc(bad)
    with pytest.raises(PacketError) as caught:
        parse(data)
    assert caught.value.code == "encoding"


def test_lowercase_hex_crc_is_accepted():
    assert parse(EXAMPLE.replace(b"1C80", b"1c80")).tolerated == ()


# --- lenient -------------------------------------------------------------------------------------


def modbus_low_first(text: str) -> str:
    value = reference_modbus(text.encode())
    return f"{value & 0xFF:02X}{value >> 8:02X}"


def test_lenient_accepts_a_modbus_crc_low_byte_first_and_says_so():
    data = frame(EXAMPLE_SEGMENT, crc=modbus_low_first(EXAMPLE_SEGMENT))
    with pytest.raises(PacketError) as caught:
        parse(data)
    assert caught.value.code == "crc"
    packet = parse(data, lenient=True)
    assert packet.mn == MN
    assert packet.tolerated == (
        f"CRC-16/MODBUS written low byte first ({modbus_low_first(EXAMPLE_SEGMENT)})",
    )


def test_lenient_still_refuses_a_crc_that_matches_nothing():
    with pytest.raises(PacketError, match="1C81"):
        parse(EXAMPLE.replace(b"1C80", b"1C81"), lenient=True)


def test_lenient_accepts_an_over_long_segment_and_says_so():
    text = long_segment()
    with pytest.raises(PacketError):
        parse(frame(text))
    packet = parse(frame(text), lenient=True)
    assert packet.tolerated == (f"data segment of {len(text)} bytes, over the 1024 allowed",)
    assert len(readings(packet)) == 90


# --- the stream ----------------------------------------------------------------------------------


def test_a_frame_fed_byte_by_byte_comes_out_once_at_its_end():
    splitter = FrameSplitter()
    out = []
    for index in range(len(EXAMPLE)):
        out += splitter.feed(EXAMPLE[index : index + 1])
        if index < len(EXAMPLE) - 1:
            assert out == []
            assert splitter.buffered == index + 1
            assert splitter.in_frame == (index >= 1)
    assert out == [EXAMPLE]
    assert splitter.buffered == 0 and not splitter.in_frame


def test_two_frames_in_one_feed_and_one_across_feeds():
    second = frame(segment())
    splitter = FrameSplitter()
    assert splitter.feed(EXAMPLE + second + second[:30]) == [EXAMPLE, second]
    assert splitter.buffered == 30
    assert splitter.feed(second[30:]) == [second]


def test_garbage_between_frames_is_reported_once_and_skipped():
    splitter = FrameSplitter()
    out = splitter.feed(EXAMPLE + b"hello" + EXAMPLE)
    assert out[0] == EXAMPLE and out[2] == EXAMPLE
    assert isinstance(out[1], PacketError)
    assert (out[1].code, out[1].reason, out[1].data) == (
        "framing",
        "garbage before ##: 5 bytes",
        b"hello",
    )


def test_garbage_without_a_frame_is_dropped_but_a_trailing_hash_kept():
    splitter = FrameSplitter()
    [error] = splitter.feed(b"GET / HTTP/1.1\r\n#")
    assert error.code == "framing" and splitter.buffered == 1
    assert splitter.feed(b"more garbage") == []  # the same run of garbage: reported once
    assert splitter.feed(b"#") == []
    assert splitter.feed(b"#") == [] and splitter.in_frame  # a ## looks like a start...
    assert splitter.feed(EXAMPLE) == [EXAMPLE]  # ...until a ## with a length follows


def test_a_truncated_frame_is_reported_and_the_next_one_read():
    splitter = FrameSplitter()
    out = splitter.feed(EXAMPLE[:40] + EXAMPLE)
    assert [getattr(item, "code", item) for item in out] == ["truncated", EXAMPLE]
    assert out[0].data == EXAMPLE[:40]


def test_a_frame_with_a_wrong_length_is_cut_at_its_cr_lf_for_parse_to_name():
    wrong = frame(EXAMPLE_SEGMENT, length=99)
    splitter = FrameSplitter()
    assert splitter.feed(wrong + EXAMPLE) == [wrong, EXAMPLE]
    with pytest.raises(PacketError, match="header says 99, data segment is 101 bytes"):
        parse(wrong)
    too_big = frame(EXAMPLE_SEGMENT, length=150)
    assert splitter.feed(too_big) == [too_big]


def test_a_bad_length_header_is_reported_and_resynchronised():
    splitter = FrameSplitter()
    out = splitter.feed(b"##ab12 rest of it" + EXAMPLE)
    assert [getattr(item, "code", item) for item in out] == ["length", EXAMPLE]


# --- split packets -------------------------------------------------------------------------------


def part(pno, pnum=2, qn="20240105140001001", cp=None):
    cp = cp or f"DataTime=20240105130000;a3400{pno}-Avg={pno}0"
    return parse(build("22", "2061", "123456", "AQ0001", cp, qn=qn, flag=7, pnum=pnum, pno=pno))


def test_a_split_packet_is_reassembled():
    first, second = part(1), part(2)
    assert first.split and first.needs_reply and (first.pnum, first.pno) == ("2", "1")
    reassembler = Reassembler()
    assert reassembler.add(second) is None  # parts may come in any order
    assert reassembler.pending == 1
    whole = reassembler.add(first)
    assert whole is not None and reassembler.pending == 0
    assert not whole.split and (whole.pnum, whole.pno, whole.flag) == (None, None, 5)
    assert whole.cp_items == first.cp_items + second.cp_items
    assert [(r.code, r.value) for r in readings(whole)] == [("a34001", 10.0), ("a34002", 20.0)]
    assert whole.data_segment == first.data_segment + "\n" + second.data_segment


def test_an_unsplit_packet_passes_straight_through():
    packet = parse(EXAMPLE)
    assert Reassembler().add(packet) is packet


def test_parts_of_different_messages_are_kept_apart():
    reassembler = Reassembler()
    assert reassembler.add(part(1, qn="1")) is None
    assert reassembler.add(part(2, qn="2")) is None
    assert reassembler.pending == 2


def test_a_part_disagreeing_on_pnum_is_refused():
    reassembler = Reassembler()
    reassembler.add(part(1, pnum=3))
    with pytest.raises(PacketError) as caught:
        reassembler.add(part(2, pnum=2))
    assert caught.value.code == "split" and reassembler.pending == 0


def test_incomplete_sets_are_dropped_after_the_timeout():
    now = [1000.0]
    reassembler = Reassembler(timeout=60, clock=lambda: now[0])
    assert reassembler.add(part(1)) is None
    now[0] += 59
    assert reassembler.expire() == []
    now[0] += 2
    assert reassembler.expire() == [("AQ0001", "20240105140001001")]
    assert reassembler.pending == 0
    assert reassembler.add(part(2)) is None  # its first half is gone: waits again
    assert reassembler.add(part(1)) is not None


def test_the_oldest_set_goes_when_too_many_wait():
    reassembler = Reassembler(max_pending=2)
    for qn in ("1", "2", "3"):
        reassembler.add(part(1, qn=qn))
    assert reassembler.pending == 2
    assert reassembler.add(part(2, qn="1")) is None
    assert reassembler.add(part(2, qn="3")) is not None
