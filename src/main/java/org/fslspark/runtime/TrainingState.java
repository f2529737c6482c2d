package org.fslspark.runtime;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.Serializable;
import java.util.Map;

/**
 * Everything a run carries from one round to the next, as one value: the driver loop is
 * {@code state = round(state)}, and a checkpoint of it is enough to continue the run exactly.
 *
 * @param round              the next round to run (rounds completed so far)
 * @param client             global client part x_c (flat)
 * @param server             global server part x_s (flat)
 * @param auxiliary          the head every client receives at the next round's start (CSE-FSL's average), or null
 * @param alignedBefore      whether FSL-SAGE has aligned with data yet (round 0's alignment waits for it)
 * @param executors          what the executors hold for the next round ({@link HeldState}: every optimizer's state,
 *                           clients' auxiliary learners, the server's per-client copies, auxiliary learners and alignment
 *                           buffers), by name, inline or in the files of a round checkpoint; empty after a round that did not return it (no checkpoint followed),
 *                           when the executors' memory is the only copy
 */
public record TrainingState(int round, INDArray client, INDArray server, INDArray auxiliary, boolean alignedBefore,
                            long cumulativePayloadBytes, long cumulativeWireBytes, double cumulativeSeconds,
                            double cumulativeModelledSeconds, Map<String, HeldCopy> executors) implements Serializable {

    /** This state with {@code copies} as the driver's copy of what the executors hold. */
    TrainingState withExecutors(Map<String, HeldCopy> copies) {
        return new TrainingState(round, client, server, auxiliary, alignedBefore, cumulativePayloadBytes, cumulativeWireBytes,
                cumulativeSeconds, cumulativeModelledSeconds, copies);
    }

    /** The state before round 0: the initial model, nothing sent, nothing held. */
    static TrainingState initial(INDArray client, INDArray server) {
        return new TrainingState(0, client, server, null, false, 0, 0, 0, 0, Map.of());
    }
}
