package org.fslspark.metrics;

import java.io.Serializable;

/**
 * One row of events.csv: something that happened to a round other than training, e.g. {@code retried} (an attempt
 * failed and the round was rerun from its start), {@code failed} (the last attempt failed; the run stopped) or
 * {@code diverged} (a non-finite value; the run stopped), {@code lost} (an institute's site had no executor for
 * fault.site-timeout: rounds go on without it), {@code rejoined} (it takes part again) or {@code refused-frame} (the
 * per-batch server refused its frame: it dropped out of the round), with the institute it concerns ("" if none is
 * known).
 */
public record EventRecord(int round, String institute, String event, String reason) implements Serializable {

    /** An empty field reads back from CSV as null; the table has no nulls. */
    public EventRecord {
        institute = institute == null ? "" : institute;
        reason = reason == null ? "" : reason;
    }

    public static final String[] COLUMNS = {"round", "institute", "event", "reason"};

    public Object[] values() {
        return new Object[]{round, institute, event, reason};
    }
}
