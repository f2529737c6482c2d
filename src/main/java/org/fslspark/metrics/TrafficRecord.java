package org.fslspark.metrics;

import java.io.Serializable;

/**
 * One row of traffic.parquet: what crossed one institute's link to the server site in one round,
 * in one direction, for one kind of message (activations, labels, gradients, model, control), and the
 * codec its values travelled in (last, so that the columns before keep their places).
 */
public record TrafficRecord(String experiment, String algorithm, int round, String institute, String direction,
                            String kind, long payloadBytes, long wireBytes, long messages, String codec) implements Serializable {

    public static final String[] COLUMNS = {"experiment", "algorithm", "round", "institute", "direction", "kind",
            "payload_bytes", "wire_bytes", "messages", "codec"};

    public Object[] values() {
        return new Object[]{experiment, algorithm, round, institute, direction, kind, payloadBytes, wireBytes, messages, codec};
    }
}
