-- How many times each parked message was re-driven (shared/dlq.py): a re-drive past the
-- limit is refused. Keyed by the message (its original topic and event id), not by the dead
-- letter, so a message parked again after a re-drive keeps its count.
CREATE TABLE dead_letter_redrives (
    original_topic    TEXT NOT NULL,
    original_event_id TEXT NOT NULL,
    redrives          INT NOT NULL CHECK (redrives > 0),
    last_redriven_at  TIMESTAMPTZ NOT NULL,
    last_redriven_by  TEXT NOT NULL,
    PRIMARY KEY (original_topic, original_event_id)
);
