"""AMI bytes <-> frames, no I/O: feed what the socket read, get frames; encode what to write."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from acd.ami.errors import AmiProtocolError, HeaderInjection, InvalidCodecSetting
from acd.ami.frames import Frame, parse_lines, trusted_frame, well_formed

DEFAULT_MAX_FRAME_BYTES = 64 * 1024
MIN_MAX_FRAME_BYTES = 256

_BANNER = b"Asterisk Call Manager/"
_BANNER_MAX = 128  # "Asterisk Call Manager/9.0.0\r\n" is 29 bytes
_CRLF_END = b"\r\n\r\n"
_LF_END = b"\n\n"
# Enough of an oversized frame's last bytes to spot a terminator split across two reads.
_END_OVERLAP = len(_CRLF_END) - 1
_FOLLOWS = "Response: Follows"
_new = object.__new__
_set = object.__setattr__


class AmiDecoder:
    """Incremental AMI decoder: bytes in, ``Frame`` objects out, bounded memory.

    It frames on the bytes (``\\r\\n\\r\\n``) and decodes whole frames as UTF-8, so a
    character split across reads survives. A malformed or oversized frame is counted in
    ``bad_frames`` / ``oversized_frames`` and skipped: decoding goes on with the next one.
    A peer that ends lines with a bare ``\\n`` is tolerated. Between two calls to ``feed``
    the buffer holds at most ``max_frame_bytes`` plus the 3 first bytes of a terminator.
    """

    __slots__ = (
        "_await_banner",
        "_end",
        "_skipping",
        "_tail",
        "bad_frames",
        "banner",
        "frames_decoded",
        "max_frame_bytes",
        "oversized_frames",
    )

    def __init__(
        self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, expect_banner: bool = True
    ) -> None:
        if max_frame_bytes < MIN_MAX_FRAME_BYTES:
            raise InvalidCodecSetting(
                f"max_frame_bytes must be at least {MIN_MAX_FRAME_BYTES}, got {max_frame_bytes}"
            )
        self.max_frame_bytes = max_frame_bytes
        self.banner: str | None = None
        self.frames_decoded = 0
        self.bad_frames = 0
        self.oversized_frames = 0
        self._tail = b""
        self._await_banner = expect_banner
        self._skipping = False
        # The frame terminator, chosen by the first one seen: CRLF (Asterisk) or bare LF.
        self._end: bytes | None = None

    @property
    def protocol_version(self) -> str | None:
        """The AMI version of the banner (``"9.0.0"`` for Asterisk 20), if one was seen."""
        if self.banner is None:
            return None
        return self.banner.partition("/")[2].strip()

    @property
    def buffered(self) -> int:
        """Bytes held back between two reads (a partial frame), at most ``buffer_limit``."""
        return len(self._tail)

    @property
    def buffer_limit(self) -> int:
        """The most bytes ever held between two reads."""
        return self.max_frame_bytes + _END_OVERLAP

    def feed(self, data: bytes) -> list[Frame]:
        """Take the bytes of one read and return the frames they complete, in order."""
        if type(data) is not bytes:
            data = _as_bytes(data)
        if not data:
            return []
        if self._end is _LF_END:
            data = self._normalise(data)
        tail = self._tail
        buf = tail + data if tail else data
        # The held tail never contains a terminator: search only where a new one can be, so
        # tiny reads of a big frame cost linear, not quadratic, time.
        start = max(len(tail) - _END_OVERLAP, 0)
        if self._await_banner:
            buf, start = self._take_banner(buf), 0
            if self._await_banner:
                self._tail = buf
                return []
        end = self._end
        if end is None:
            buf, start = self._choose_terminator(buf, start)
            end = self._end
            if end is None:
                self._hold(buf)
                return []
        if self._skipping:
            position = buf.find(end, start)
            if position < 0:
                self._hold(buf)
                return []
            self._skipping = False
            buf, start = buf[position + len(end) :], 0
        position = buf.rfind(end, start)
        if position < 0:
            self._keep(buf)
            return []
        self._keep(buf[position + len(end) :])
        return self._decode_region(buf[:position], end)

    def _take_banner(self, buf: bytes) -> bytes:
        """Consume ``Asterisk Call Manager/x.y.z`` if the stream starts with it."""
        newline = buf.find(b"\n")
        if newline < 0:
            could_be_banner = buf.startswith(_BANNER) or _BANNER.startswith(buf)
            if could_be_banner and len(buf) <= _BANNER_MAX:
                return buf
            self._await_banner = False
            return buf
        self._await_banner = False
        line = buf[:newline]
        if not line.startswith(_BANNER):
            return buf
        self.banner = line.rstrip(b"\r").decode("utf-8", "replace")
        return buf[newline + 1 :]

    def _choose_terminator(self, buf: bytes, start: int) -> tuple[bytes, int]:
        """Pick the framing once a terminator shows: bare LF only if no CRLF came first."""
        crlf = buf.find(_CRLF_END, start)
        lf = buf.find(_LF_END, start)
        if crlf < 0 and lf < 0:
            return buf, start
        first_crlf = buf.find(b"\r\n")
        if lf >= 0 and (first_crlf < 0 or lf < first_crlf):
            self._end = _LF_END
            return buf.replace(b"\r\n", b"\n"), 0
        self._end = _CRLF_END
        return buf, start

    def _normalise(self, data: bytes) -> bytes:
        """Bare-LF mode: turn CRLF into LF, including a CR and LF split across two reads."""
        if data[:1] == b"\n" and self._tail.endswith(b"\r"):
            self._tail = self._tail[:-1]
        return data.replace(b"\r\n", b"\n")

    def _hold(self, buf: bytes) -> None:
        """No terminator yet: hold the partial frame, or only its last bytes when skipping."""
        if self._skipping:
            self._tail = buf[-_END_OVERLAP:]
        else:
            self._keep(buf)

    def _keep(self, rest: bytes) -> None:
        """Hold a partial frame for the next read, or start skipping it if it is too big."""
        # The allowance is the start of a terminator: a frame of exactly the limit whose
        # terminator is cut across two reads is not oversized.
        if len(rest) > self.max_frame_bytes + _END_OVERLAP:
            self.oversized_frames += 1
            self._skipping = True
            self._tail = rest[-_END_OVERLAP:]
        else:
            self._tail = rest

    def _decode_region(self, region: bytes, end: bytes) -> list[Frame]:
        """Decode complete frames: one UTF-8 decode, then one split per frame."""
        # ASCII bytes decode to themselves even with errors="replace", so splitting the text
        # and the bytes on the terminator gives the same pieces.
        text = region.decode("utf-8", "replace")
        pieces = text.split("\r\n\r\n" if end is _CRLF_END else "\n\n")
        if len(region) > self.max_frame_bytes:
            pieces = self._drop_oversized(pieces, region.split(end))
        frames: list[Frame] = []
        if end is _CRLF_END:
            self._decode_crlf(pieces, frames)
        else:
            self._decode_lf(pieces, frames)
        self.frames_decoded += len(frames)
        return frames

    def _drop_oversized(self, pieces: list[str], raw: list[bytes]) -> list[str]:
        kept: list[str] = []
        for piece, piece_bytes in zip(pieces, raw, strict=True):
            if len(piece_bytes) > self.max_frame_bytes:
                self.oversized_frames += 1
            else:
                kept.append(piece)
        return kept

    def _decode_crlf(self, pieces: list[str], frames: list[Frame]) -> None:
        # The hot loop: names bound locally, frames built without the dataclass checks. The
        # slow path takes a bare LF (blank lines, mixed line ends), a line without ": ", and
        # the raw output of an old ``Response: Follows``.
        emit, split, count, new, set_attribute = frames.append, str.split, str.count, _new, _set
        for piece in pieces:
            lines = split(piece, "\r\n")
            if count(piece, "\n") == len(lines) - 1 and lines[0] != _FOLLOWS:
                for line in lines:
                    if ": " not in line:
                        break
                else:
                    frame = new(Frame)
                    set_attribute(frame, "lines", tuple(lines))
                    set_attribute(frame, "_index", {})
                    emit(frame)
                    continue
            self._decode_slow(piece, emit)

    def _decode_lf(self, pieces: list[str], frames: list[Frame]) -> None:
        emit = frames.append
        for piece in pieces:
            lines = piece.split("\n")
            if "\r" not in piece and lines[0] != _FOLLOWS and well_formed(lines):
                emit(trusted_frame(tuple(lines)))
            else:
                self._decode_slow(piece, emit)

    def _decode_slow(self, piece: str, emit: Callable[[Frame], None]) -> None:
        """Blank lines, bare LFs, ``Response: Follows`` output, or a malformed frame."""
        text = piece.replace("\r\n", "\n").strip("\n")
        if not text:
            return
        # Command output may hold blank lines: never split a Follows frame.
        blocks = [text] if text.startswith(_FOLLOWS) else text.split("\n\n")
        for block in blocks:
            stripped = block.strip("\n")
            if not stripped:
                continue
            lines = parse_lines(stripped.split("\n"))
            if lines is None:
                self.bad_frames += 1
            else:
                emit(trusted_frame(lines))


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise AmiProtocolError(f"the AMI decoder takes bytes, not {type(data).__name__}")


_KEY = re.compile(r"[!-9;-~]+")  # printable ASCII, no space, no colon


def _check_header(key: str, value: str) -> None:
    if _KEY.fullmatch(key) is None:
        raise HeaderInjection(f"invalid AMI header name {key!r}")
    if "\r" in value or "\n" in value or "\x00" in value:
        raise HeaderInjection(f"line end or NUL in the value of AMI header {key!r}")


def encode_frame(fields: Iterable[tuple[str, str]]) -> bytes:
    """Serialise (key, value) pairs as one AMI message; refuse anything that breaks framing."""
    lines: list[str] = []
    for key, value in fields:
        _check_header(key, value)
        lines.append(f"{key}: {value}\r\n")
    if not lines:
        raise AmiProtocolError("an AMI message needs at least one header")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")


_RESERVED = frozenset({"action", "actionid"})


def check_action(name: str, fields: Iterable[tuple[str, str]]) -> None:
    """Refuse an action whose name or fields would break the framing or the correlation."""
    if _KEY.fullmatch(name) is None:
        raise HeaderInjection(f"invalid AMI action name {name!r}")
    for key, value in fields:
        if key.lower() in _RESERVED:
            raise AmiProtocolError(f"{key!r} is set by encode_action, not by the fields")
        _check_header(key, value)


def encode_action(name: str, fields: Sequence[tuple[str, str]], action_id: str) -> bytes:
    """``Action: name``, ``ActionID: action_id``, then ``fields`` in order, then a blank line."""
    check_action(name, fields)
    if not action_id:
        raise AmiProtocolError("an action needs a non-empty ActionID")
    return encode_frame((("Action", name), ("ActionID", action_id), *fields))
