import logging

from firmtext import logs


def test_log_records_never_carry_a_whole_phone_number(caplog):
    logs.configure("info")
    handler = logging.getLogger().handlers[0]
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "text from %s to +1 555 000 0000", ("(555) 123-4567",),
                               None)
    assert handler.filters[0].filter(record)
    line = record.getMessage()
    assert "123-4567" not in line and "555 000 0000" not in line
    assert line == "text from ***4567 to ***0000"
