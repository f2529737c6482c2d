package org.fslspark.transport;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;

/**
 * A tensor as it travels: a kind, a shape and raw little-endian values, float32 or int32.
 * Payload bytes are elements times bytes per element, the figure the FSL-SAGE reference reports.
 */
public record Tensor(Kind kind, long[] shape, float[] floats, int[] ints) {

    public static Tensor of(Kind kind, INDArray array) {
        INDArray c = array.dataType() == DataType.FLOAT && array.ordering() == 'c' && !array.isView()
                ? array : array.castTo(DataType.FLOAT).dup('c');
        return new Tensor(kind, array.shape(), c.data().asFloat(), null);
    }

    public static Tensor ofInts(Kind kind, int[] values) {
        return new Tensor(kind, new long[]{values.length}, null, values.clone());
    }

    public boolean isFloat() {
        return floats != null;
    }

    public long elements() {
        return isFloat() ? floats.length : ints.length;
    }

    /** elements x 4: both float32 and int32 take four bytes. */
    public long payloadBytes() {
        return elements() * 4L;
    }

    public INDArray toArray() {
        if (!isFloat()) {
            throw new IllegalStateException(kind + " holds integers");
        }
        return Nd4j.create(floats, shape, 'c');
    }

    @Override
    public String toString() {
        return kind + Arrays.toString(shape);
    }
}
