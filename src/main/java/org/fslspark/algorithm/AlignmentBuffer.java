package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * A client's alignment data at the server: the smashed batches it uploaded, first in first out,
 * holding at most {@code capacity} samples (the oldest samples are dropped first, even from the
 * middle of a batch).
 */
public final class AlignmentBuffer {
    private final int capacity;
    private final Deque<SmashedBatch> batches = new ArrayDeque<>();
    private int samples;

    public AlignmentBuffer(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("alignment buffer capacity must be >= 1, got " + capacity);
        }
        this.capacity = capacity;
    }

    public synchronized void add(SmashedBatch batch) {
        batches.addLast(new SmashedBatch(batch.client(), batch.iteration(), batch.activations().dup(), batch.labels().clone()));
        samples += (int) batch.activations().size(0);
        while (samples > capacity) {
            SmashedBatch oldest = batches.removeFirst();
            int excess = samples - capacity;
            int n = (int) oldest.activations().size(0);
            samples -= n;
            if (excess < n) {
                // Keep the newest (n - excess) samples of the oldest batch, with their targets (a sequence has several).
                int perSample = oldest.labels().length / n;
                INDArray keep = oldest.activations().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(excess, n)).dup();
                int[] labels = java.util.Arrays.copyOfRange(oldest.labels(), excess * perSample, n * perSample);
                batches.addFirst(new SmashedBatch(oldest.client(), oldest.iteration(), keep, labels));
                samples += n - excess;
            }
        }
    }

    public synchronized int samples() {
        return samples;
    }

    public int capacity() {
        return capacity;
    }

    /** The buffered batches, oldest first (adding them in this order to an empty buffer rebuilds this one). */
    public synchronized java.util.List<SmashedBatch> batches() {
        return java.util.List.copyOf(batches);
    }

    /** The newest batch, or null. */
    public synchronized SmashedBatch newest() {
        return batches.peekLast();
    }

    /** All samples, concatenated oldest first, or null if none. */
    public synchronized SmashedBatch contents() {
        int take = batches.size();
        if (take == 0) {
            return null;
        }
        INDArray[] z = new INDArray[take];
        int[] labels = new int[0];
        int i = 0;
        for (SmashedBatch b : batches) {
            if (i == take) {
                break;
            }
            z[i++] = b.activations();
            int[] merged = java.util.Arrays.copyOf(labels, labels.length + b.labels().length);
            System.arraycopy(b.labels(), 0, merged, labels.length, b.labels().length);
            labels = merged;
        }
        return new SmashedBatch(batches.peekFirst().client(), -1, Nd4j.concat(0, z), labels);
    }
}
