# Retry backoff through the real program: `[Host] RetryDelayMs`,
# `RetryBackoff` and `RetryMaxDelayMs` give the delay of each retry, as the
# journal's task-retrying records tell it; a bad value is a configuration
# error naming the key.
import json


def write_files(tmp_path, host_keys, fail_attempts, retry_count):
    conf = tmp_path / "orrery.conf"
    conf.write_text("[Host]\n" + "".join(f"{k}={v}\n" for k, v in host_keys.items()) +
                    "\n[Device sim]\nType=simulated\n")
    file = tmp_path / "flaky.json"
    file.write_text(json.dumps({"constellation_id": "retry-test", "tasks": [
        {"task_id": "flaky", "device_type": "simulated", "retry_count": retry_count,
         "task_data": {"fail_attempts": fail_attempts}}]}))
    return conf, file


def retry_delays(journal):
    with open(journal, "rb") as f:
        recs = [json.loads(line) for line in f.read().split(b"\n") if line]
    return [r["data"]["delay_ms"] for r in recs if r["type"] == "task-retrying"]


def test_backoff_factor_and_cap_from_the_configuration(tmp_path, orrery):
    conf, file = write_files(tmp_path, {"RetryDelayMs": 5, "RetryBackoff": 3,
                                        "RetryMaxDelayMs": 100}, 5, 5)
    journal = tmp_path / "j.jsonl"
    r = orrery("run", "--no-plugins", "--config", conf, "--journal", journal, file,
               cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r
    assert retry_delays(journal) == [5, 15, 45, 100, 100]


def test_no_more_retries_than_asked(tmp_path, orrery):
    conf, file = write_files(tmp_path, {"RetryDelayMs": 2, "RetryBackoff": 2,
                                        "RetryMaxDelayMs": 1000}, 10, 2)
    journal = tmp_path / "j.jsonl"
    r = orrery("run", "--no-plugins", "--config", conf, "--journal", journal, file,
               cwd=tmp_path, timeout=60)
    assert r.returncode == 1, r
    assert retry_delays(journal) == [2, 4]


def test_bad_backoff_is_a_configuration_error(tmp_path, orrery):
    conf, file = write_files(tmp_path, {"RetryBackoff": "fast"}, 1, 1)
    r = orrery("run", "--no-plugins", "--config", conf, file, cwd=tmp_path, timeout=60)
    assert r.returncode == 2, r
    assert "RetryBackoff" in r.stderr, r
