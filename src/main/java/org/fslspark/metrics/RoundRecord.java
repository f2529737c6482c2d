package org.fslspark.metrics;

import java.io.Serializable;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One row of rounds.parquet: the state after a round's aggregation. Payload bytes count the
 * tensors' elements times their size, activations, gradients and models but not labels (the
 * reference's convention; labels are in {@code label_bytes_up}); wire bytes count every byte written
 * to the channel, framing and labels included. Up is client site to server site.
 *
 * <p>For a language model the test figures are per predicted token: {@code testLoss} is the mean token
 * cross-entropy (nats), {@code testAccuracy} the next-token accuracy and {@code testPerplexity} is
 * {@code exp(testLoss)}; for a classifier the perplexity is the same function of its loss.
 *
 * <p>Modelled seconds are the time the round would take on the test-bed's links and compute
 * figures (ideal links without a test-bed), see {@code org.fslspark.runtime.TimeModel}.
 *
 * <p>{@code participants} names the institutes that took part in the round, separated by ';' (all of them unless a
 * site was lost, {@code fault.min-institutes}); "" in rows written before the column existed.
 */
public record RoundRecord(String experiment, String algorithm, int round, double testAccuracy, double testLoss,
                          long payloadBytesUp, long payloadBytesDown, long labelBytesUp, long wireBytesUp,
                          long wireBytesDown, long cumulativePayloadBytes, long cumulativeWireBytes,
                          double roundSeconds, double cumulativeSeconds, double testPerplexity,
                          double modelledSeconds, double cumulativeModelledSeconds, String participants)
        implements Serializable {

    /** An empty field reads back from CSV as null. */
    public RoundRecord {
        participants = participants == null ? "" : participants;
    }

    /** A row without participants recorded. */
    public RoundRecord(String experiment, String algorithm, int round, double testAccuracy, double testLoss,
                       long payloadBytesUp, long payloadBytesDown, long labelBytesUp, long wireBytesUp,
                       long wireBytesDown, long cumulativePayloadBytes, long cumulativeWireBytes,
                       double roundSeconds, double cumulativeSeconds, double testPerplexity,
                       double modelledSeconds, double cumulativeModelledSeconds) {
        this(experiment, algorithm, round, testAccuracy, testLoss, payloadBytesUp, payloadBytesDown, labelBytesUp,
                wireBytesUp, wireBytesDown, cumulativePayloadBytes, cumulativeWireBytes, roundSeconds, cumulativeSeconds,
                testPerplexity, modelledSeconds, cumulativeModelledSeconds, "");
    }

    /** A row whose perplexity is {@code exp(testLoss)}. */
    public RoundRecord(String experiment, String algorithm, int round, double testAccuracy, double testLoss,
                       long payloadBytesUp, long payloadBytesDown, long labelBytesUp, long wireBytesUp,
                       long wireBytesDown, long cumulativePayloadBytes, long cumulativeWireBytes,
                       double roundSeconds, double cumulativeSeconds, double modelledSeconds,
                       double cumulativeModelledSeconds) {
        this(experiment, algorithm, round, testAccuracy, testLoss, payloadBytesUp, payloadBytesDown, labelBytesUp,
                wireBytesUp, wireBytesDown, cumulativePayloadBytes, cumulativeWireBytes, roundSeconds, cumulativeSeconds,
                Math.exp(testLoss), modelledSeconds, cumulativeModelledSeconds);
    }

    public static final String[] COLUMNS = {"experiment", "algorithm", "round", "test_accuracy", "test_loss",
            "payload_bytes_up", "payload_bytes_down", "label_bytes_up", "wire_bytes_up", "wire_bytes_down",
            "cumulative_payload_bytes", "cumulative_wire_bytes", "round_seconds", "cumulative_seconds",
            "test_perplexity", "modelled_seconds", "cumulative_modelled_seconds", "participants"};

    public Object[] values() {
        return new Object[]{experiment, algorithm, round, testAccuracy, testLoss, payloadBytesUp, payloadBytesDown,
                labelBytesUp, wireBytesUp, wireBytesDown, cumulativePayloadBytes, cumulativeWireBytes, roundSeconds,
                cumulativeSeconds, testPerplexity, modelledSeconds, cumulativeModelledSeconds, participants};
    }

    /** The first round whose test accuracy reaches {@code target}, if any. */
    public static Optional<RoundRecord> firstReaching(List<RoundRecord> rounds, double target) {
        return rounds.stream().filter(r -> r.testAccuracy() >= target).findFirst();
    }

    /**
     * When {@code target} was first reached: "round N, X s measured, Y s modelled" (cumulative, so
     * including every earlier round), or "not reached".
     */
    public static String timeToTarget(List<RoundRecord> rounds, double target) {
        return firstReaching(rounds, target).map(r -> String.format(Locale.ROOT,
                "round %d, %.1f s measured, %.1f s modelled", r.round(), r.cumulativeSeconds(),
                r.cumulativeModelledSeconds())).orElse("not reached");
    }
}
