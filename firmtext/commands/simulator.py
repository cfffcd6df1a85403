"""``firmtext simulator`` (serve the local carrier) and ``firmtext simulate ...`` (be a
client's phone: text or call firmtext through it)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import mimetypes
import os
from pathlib import Path

from adapters.phone import to_e164
from adapters.simulated_handset import DEV_FIRM_NUMBER, inject_inbound, inject_voice
from firmtext.config import Settings


def _firm_number() -> str:
    # Not a Setting: only this dev tool needs it, and the API knows the firm's real number.
    return os.environ.get("FIRMTEXT_FIRM_NUMBER") or DEV_FIRM_NUMBER


def register(subparsers) -> None:
    """Attach ``simulator`` and ``simulate {inbound,voice}``."""
    serve = subparsers.add_parser("simulator", help="run the local Twilio-compatible carrier simulator")
    serve.add_argument("--port", type=int, help="listen port (default FIRMTEXT_SIMULATOR_PORT, 8010)")
    serve.add_argument("--callback-delay", type=float, default=None, metavar="SECONDS",
                       help="pause before each status callback (default 0.05)")
    serve.set_defaults(func=_serve)

    simulate = subparsers.add_parser("simulate", help="text or call firmtext as a client's phone would")
    kinds = simulate.add_subparsers(dest="kind", metavar="KIND", required=True)
    inbound = kinds.add_parser("inbound", help="send an inbound SMS/MMS to firmtext's webhook")
    inbound.add_argument("--from", dest="from_number", required=True, help="the client's number")
    inbound.add_argument("--to", dest="to_number", default=_firm_number(),
                         help=f"the firm's number (default FIRMTEXT_FIRM_NUMBER or {DEV_FIRM_NUMBER})")
    inbound.add_argument("--body", required=True, help="the text")
    inbound.add_argument("--media", nargs="*", default=[], metavar="FILE", help="files to attach (MMS)")
    inbound.add_argument("--sid", help="reuse this MessageSid (to test duplicate delivery)")
    inbound.set_defaults(func=_inbound)

    voice = kinds.add_parser("voice", help="call firmtext's voice webhook and print its TwiML")
    voice.add_argument("--from", dest="from_number", required=True, help="the caller's number")
    voice.add_argument("--to", dest="to_number", default=_firm_number(), help="the firm's number")
    voice.set_defaults(func=_voice)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn  # imported here so the other commands start fast

    from adapters.carrier_simulator import CALLBACK_DELAY, create_simulator

    settings = Settings.from_env()
    # Our own lines (accepted sends, failed callbacks) mask numbers and never carry bodies.
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    port = args.port or settings.simulator_port
    if args.port:  # media URLs the simulator hands out must point at where it listens
        settings = settings.with_overrides(simulator_port=port, twilio_api_base=f"http://127.0.0.1:{port}")
    # Uvicorn's access log holds method, path and status only: no bodies or numbers.
    app = create_simulator(settings, callback_delay=CALLBACK_DELAY if args.callback_delay is None
                           else args.callback_delay)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level=settings.log_level)
    return 0


def _inbound(args: argparse.Namespace) -> int:
    media = []
    for name in args.media:
        path = Path(name)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        media.append((path.read_bytes(), content_type))
    response = asyncio.run(inject_inbound(
        Settings.from_env(), to_e164(args.from_number), args.body, to_number=to_e164(args.to_number),
        media=media, message_sid=args.sid))
    print(response.status_code)
    print(response.text)
    return 0 if response.is_success else 1


def _voice(args: argparse.Namespace) -> int:
    response = asyncio.run(inject_voice(Settings.from_env(), to_e164(args.from_number),
                                         to_number=to_e164(args.to_number)))
    print(response.status_code)
    print(response.text)
    return 0 if response.is_success else 1
