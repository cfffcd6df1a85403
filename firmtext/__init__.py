"""firmtext: event-sourced two-way SMS/MMS texting between law firms and their clients."""

__version__ = "0.1.0"
