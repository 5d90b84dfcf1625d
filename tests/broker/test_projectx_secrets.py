"""The API key and the session tokens never reach a log line, an error, a repr or the recording."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from projectx_helpers import API_KEY, Events, client, connected, restored
from sim_helpers import MNQ, Api, gateway, run

from risk_manager.broker.errors import GatewayError, LoginFailed
from risk_manager.broker.projectx import Recorder


def test_the_key_and_tokens_stay_out_of_logs_errors_reprs_and_the_recording(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything: ours, httpx, httpcore, websockets
    tokens: set[str] = set()
    errors: list[BaseException] = []
    reprs: list[str] = []
    recording = tmp_path / "session.jsonl"

    def keep_token(px: object) -> None:
        session = px.rest.tokens.session  # type: ignore[attr-defined]
        assert session is not None
        tokens.add(session.token.reveal())

    async def body() -> None:
        async with gateway() as gw, Api(gw) as api:
            await api.login()
            await api.place(size=1)
            px = client(gw, recorder=Recorder(recording))
            async with px:
                events = Events(px)
                await px.subscribe_account(7)
                await px.subscribe_contract(MNQ)
                await events.wait_for(connected("user"))
                await events.wait_for(connected("market"))
                keep_token(px)
                gw.fault({"tokens": "expire"})
                gw.fault({"hub": "all", "action": "drop"})  # reconnect: 401 on upgrade, login again
                await events.wait_for(restored("user"))
                await events.wait_for(restored("market"))
                keep_token(px)
                gw.fault({"endpoint": "Position/closeContract", "status": 429})
                gw.fault({"endpoint": "Order/cancel", "errorCode": 5, "errorMessage": "Order not found"})
                gw.fault({"endpoint": "Position/searchOpen", "status": 400})
                for call in (px.close_position(7, MNQ), px.cancel_order(7, 1), px.search_open_positions(7)):
                    try:
                        await call
                    except GatewayError as exc:
                        errors.append(exc)
                gw.fault({"tokens": "expire"})
                try:
                    await px.close_position(7, MNQ)  # 401 on a mutating call: raised, not resent
                except GatewayError as exc:
                    errors.append(exc)
                await px.close_position(7, MNQ)
                keep_token(px)
                shown = (px, px.rest, px.settings, px.rest.tokens, px.rest.tokens.session, px.user_hub,
                         px.recorder)
                reprs.extend(repr(x) for x in shown)
                events.stop()
        async with gateway(credentials={"trader": "another-key"}) as gw:
            px = client(gw)
            with pytest.raises(LoginFailed) as refused:
                await px.start()
            errors.append(refused.value)
            await px.close()
        try:
            async with httpx.AsyncClient() as http:  # a gateway that is gone: connection refused
                await http.get(gw.base_url)
        except httpx.HTTPError:
            px = client(gw)
            with pytest.raises(GatewayError) as unreachable:
                await px.start()
            errors.append(unreachable.value)
            await px.close()

    run(body, timeout=30)
    assert len(tokens) == 3 and len(errors) == 6
    texts = [caplog.text, recording.read_text(), *reprs]
    texts += [text for exc in errors for text in (str(exc), repr(exc), repr(exc.args))]
    assert "send_request_headers" in caplog.text  # the capture really ran at DEBUG
    assert '"connection":"lost"' in recording.read_text()
    for secret in (API_KEY, *tokens):
        for text in texts:
            assert secret not in text
