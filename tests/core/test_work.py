"""The work protocol's helpers that every front end shares: how long a job has left."""

from desktop_app.core.work import Pace, say_time_left


def test_the_time_left_is_read_off_the_bars_pace_and_counted_down_between_moves():
    pace = Pace()
    assert pace.seconds_left(0.0) is None
    pace.update(None, 0.0)  # loading: a bar that does not move yet
    pace.update(0.0, 3.0)  # the pace is read from here, not from the start of the job
    pace.update(0.02, 6.0)
    assert pace.seconds_left(6.0) is None  # 2 % of the bar: too early to tell
    pace.update(0.2, 7.0)
    assert pace.seconds_left(7.0) == 16.0  # 0.2 in 4 s: 0.8 in 16 s
    assert pace.seconds_left(13.0) == 10.0  # counted down while a step runs
    assert pace.seconds_left(40.0) == 0.0
    pace.update(0.1, 8.0)  # the bar went back (a second stage): read again from there
    assert pace.seconds_left(8.0) is None
    pace.update(0.4, 11.0)
    assert abs(pace.seconds_left(11.0) - 6.0) < 1e-9
    pace.update(1.0, 15.0)
    assert pace.seconds_left(15.0) is None  # done: nothing to say


def test_the_time_left_is_said_as_roughly_as_it_is_known():
    assert [say_time_left(s) for s in (4, 12, 43, 91, 170, 3600)] == [
        "a few seconds left", "about 10 s left", "about 45 s left", "about 90 s left", "about 3 min left",
        "about 60 min left"]
