package org.fslspark.algorithm;

import org.fslspark.config.OptimizerSpec;

import java.io.Serializable;

/**
 * The knobs of the auxiliary-model algorithms (ALGORITHMS.md), as configured.
 *
 * @param serverInterval   q: a client uploads at local iterations k with k mod q == 0
 * @param alignInterval    l: FSL-SAGE aligns at the start of rounds t with t mod l == 0
 * @param bufferCapacity   N_align: samples kept per client for alignment, newest first out last
 * @param alignEpochs      E_align: passes over the buffer per alignment
 * @param alignBatchSize   minibatch of the alignment fit; 0 = the whole buffer in one batch
 * @param alignOptimizer   optimizer of the auxiliary model at the server
 * @param auxiliary        auxiliary model kind: linear or mlp
 * @param auxiliaryHidden  hidden width of the mlp auxiliary model
 * @param warmStart        FSL-SAGE: run round 0 as CSE-FSL so a_i starts as a useful head
 * @param epsilon          relative step of the alignment gradient's central difference
 */
public record AlgorithmSettings(int serverInterval, int alignInterval, int bufferCapacity, int alignEpochs,
                                int alignBatchSize, OptimizerSpec alignOptimizer, String auxiliary,
                                int auxiliaryHidden, boolean warmStart, double epsilon) implements Serializable {

    public static AlgorithmSettings defaults() {
        return new AlgorithmSettings(5, 10, 1000, 100, 0, new OptimizerSpec("adam", 1e-3, 0.9), "linear", 128, false, 1e-3);
    }
}
