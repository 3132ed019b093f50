"""How the console writes dates and times: one unambiguous form everywhere, in the console's zone and naming it
(2026-12-02 12:04:05 IST), as participants.admin.common.console_time writes them in the console's own pages."""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
