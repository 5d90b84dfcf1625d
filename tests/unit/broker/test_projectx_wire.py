"""SignalR framing, reconnect backoff, the recorder's lines and the settings from api_config.yaml."""

from __future__ import annotations

import os
import random
import stat
from datetime import UTC, datetime

import pytest

from risk_manager.broker.port import ConnectionChange, ConnectionState, HubMessage
from risk_manager.broker.projectx import HubSettings, MissingCredentials, ProjectXSettings, Recorder
from risk_manager.broker.projectx.hubs import backoff_delay
from risk_manager.broker.projectx.signalr import split_records, ws_url
from risk_manager.config import load_config_texts
from risk_manager.replay.reader import read_recording

RS = "\x1e"
RISK = "rules:\n  daily_realized_loss: {enabled: true, limit: -500}\n"


def test_a_frame_may_hold_several_records_and_end_mid_record() -> None:
    records, rest = split_records("", '{"type":6}' + RS + '{"type":1,"target":"A"}' + RS + '{"type":1,"ta')
    assert records == ['{"type":6}', '{"type":1,"target":"A"}']
    assert rest == '{"type":1,"ta'
    records, rest = split_records(rest, 'rget":"B"}' + RS)
    assert records == ['{"type":1,"target":"B"}'] and rest == ""


def test_hub_urls_become_websocket_urls() -> None:
    assert ws_url("https://rtc.topstepx.com/hubs/user") == "wss://rtc.topstepx.com/hubs/user"
    assert ws_url("http://127.0.0.1:8000/hubs/market") == "ws://127.0.0.1:8000/hubs/market"


def test_reconnect_backoff_grows_is_capped_and_jittered() -> None:
    settings = HubSettings(backoff_initial=0.5, backoff_max=60.0)
    rng = random.Random(7)
    delays = [[backoff_delay(attempt, settings, rng) for attempt in range(12)] for _ in range(50)]
    for attempt in range(12):
        ceiling = min(60.0, 0.5 * 2**attempt)
        column = [run[attempt] for run in delays]
        assert all(ceiling * 0.5 <= d <= ceiling for d in column)
        assert len(set(column)) > 1  # jittered: many clients do not retry in lockstep
    assert max(run[-1] for run in delays) <= 60.0


def test_the_recording_has_the_formats_md_lines_and_replay_reads_it(tmp_path: os.PathLike[str]) -> None:
    path = tmp_path / "rec" / "session.jsonl"  # type: ignore[operator]
    recorder = Recorder(path)
    at = datetime(2026, 3, 2, 14, 30, 1, 200000, tzinfo=UTC)
    quote = {"symbol": "F.US.MNQ", "lastPrice": 21001.0, "bestBid": 21000.75, "bestAsk": 21001.0}
    recorder.message(HubMessage("market", "GatewayQuote", ["CON.F.US.MNQ.H26", quote], at))
    wrapped = {"action": 1, "data": {"id": 7, "name": "50K", "balance": 50000, "canTrade": True}}
    recorder.message(HubMessage("user", "GatewayUserAccount", [wrapped], at))
    lost = ConnectionChange("user", ConnectionState.RECONNECTING, ConnectionState.CONNECTED, at, "drop")
    back = ConnectionChange("user", ConnectionState.CONNECTED, ConnectionState.RECONNECTING, at, "ok")
    first = ConnectionChange("user", ConnectionState.CONNECTED, ConnectionState.CONNECTING, at, "ok")
    for change in (lost, back, first):
        recorder.connection(change)
    recorder.close()
    lines = path.read_text().splitlines()
    assert lines[0] == ('{"t":"2026-03-02T14:30:01.200Z","hub":"market","target":"GatewayQuote","arguments":'
                        '["CON.F.US.MNQ.H26",{"symbol":"F.US.MNQ","lastPrice":21001.0,"bestBid":21000.75,'
                        '"bestAsk":21001.0}]}')
    assert '"arguments":[{"action":1,"data":{' in lines[1]  # passed through as received
    assert lines[2:] == ['{"t":"2026-03-02T14:30:01.200Z","connection":"lost","hub":"user"}',
                         '{"t":"2026-03-02T14:30:01.200Z","connection":"restored","hub":"user"}']
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [line.kind for line in read_recording(path)] == ["message", "message", "connection", "connection"]


def test_settings_come_from_api_config_with_env_references() -> None:
    api = (
        "projectx:\n  api_url: http://127.0.0.1:9/api\n  user_hub_url: http://127.0.0.1:9/hubs/user\n"
        "  market_hub_url: http://127.0.0.1:9/hubs/market\n  username: ${PX_USER}\n  api_key: ${PX_KEY}\n"
        "connection: {request_timeout: 3, reconnect_max_delay: 20, stale_quote_seconds: 5}\n"
    )
    config = load_config_texts({"risk_config.yaml": RISK, "api_config.yaml": api},
                               env={"PX_USER": "alice", "PX_KEY": "pk-from-env"})
    settings = ProjectXSettings.from_api_config(config.api)
    assert (settings.api_url, settings.username, settings.api_key.reveal()) == (
        "http://127.0.0.1:9/api", "alice", "pk-from-env")
    assert (settings.request_timeout, settings.stale_quote_seconds) == (3.0, 5.0)
    assert settings.hub.backoff_max == 20.0
    assert "pk-from-env" not in repr(settings)


def test_settings_without_credentials_say_which_keys_to_add() -> None:
    config = load_config_texts({"risk_config.yaml": RISK})
    with pytest.raises(MissingCredentials, match=r"projectx\.username and projectx\.api_key are required"):
        ProjectXSettings.from_api_config(config.api)
