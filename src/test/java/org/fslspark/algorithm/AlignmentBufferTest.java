package org.fslspark.algorithm;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AlignmentBufferTest {
    /** A batch whose sample i carries the value start + i, in its activations and its label. */
    private static SmashedBatch batch(int start, int n) {
        INDArray z = Nd4j.zeros(DataType.FLOAT, n, 3);
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            z.getRow(i).assign(start + i);
            labels[i] = start + i;
        }
        return new SmashedBatch(0, start, z, labels);
    }

    @Test
    void bufferNeverExceedsItsCapacityAndKeepsTheNewestSamples() {
        AlignmentBuffer buffer = new AlignmentBuffer(10);
        int next = 0;
        for (int size : new int[]{4, 4, 4, 7, 1, 3, 12}) {
            buffer.add(batch(next, size));
            next += size;
            assertTrue(buffer.samples() <= 10, "holds " + buffer.samples());
            SmashedBatch all = buffer.contents();
            int kept = all.labels().length;
            assertEquals(Math.min(10, next), kept);
            for (int i = 0; i < kept; i++) {
                int expected = next - kept + i; // the newest, oldest first
                assertEquals(expected, all.labels()[i]);
                assertEquals(expected, all.activations().getFloat(i, 2), 0f);
            }
        }
    }

    @Test
    void newestIsTheLastBatchAdded() {
        AlignmentBuffer buffer = new AlignmentBuffer(100);
        buffer.add(batch(0, 3));
        buffer.add(batch(3, 2));
        assertArrayEquals(new int[]{0, 1, 2, 3, 4}, buffer.contents().labels());
        assertArrayEquals(new int[]{3, 4}, buffer.newest().labels());
    }
}
