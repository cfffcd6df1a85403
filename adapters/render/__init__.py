"""Renderers: pure functions turning facts into what a person reads (the print view,
the evidentiary export's HTML, notification emails, replay's lines). No I/O; every value
from outside is escaped for the medium it lands in."""
