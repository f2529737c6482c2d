package org.fslspark.transport;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;

/**
 * A tensor as it travels: a kind, a shape and its values, float or int32, with the codec its float
 * values travel in (float32 unless {@link Codecs#prepare} chose another; a received tensor keeps the
 * codec it arrived in, and holds the decoded values). Payload bytes are what the codec sends of them
 * (elements × 4 for float32 and int32, the figure the FSL-SAGE reference reports).
 */
public record Tensor(Kind kind, long[] shape, float[] floats, int[] ints, Codec codec) {

    public Tensor {
        if ((floats == null) == (ints == null)) {
            throw new IllegalArgumentException(kind + ": a tensor holds either float or int values");
        }
        codec = floats == null ? null : codec == null ? Float32Codec.INSTANCE : codec;
    }

    /** Float values in float32, or int32 values. */
    public Tensor(Kind kind, long[] shape, float[] floats, int[] ints) {
        this(kind, shape, floats, ints, null);
    }

    public static Tensor of(Kind kind, INDArray array) {
        INDArray c = array.dataType() == DataType.FLOAT && array.ordering() == 'c' && !array.isView()
                ? array : array.castTo(DataType.FLOAT).dup('c');
        return new Tensor(kind, array.shape(), c.data().asFloat(), null);
    }

    public static Tensor ofInts(Kind kind, int[] values) {
        return new Tensor(kind, new long[]{values.length}, null, values.clone());
    }

    /** This tensor's kind and shape with {@code values} sent in {@code codec}. */
    public Tensor withValues(float[] values, Codec codec) {
        return new Tensor(kind, shape, values, null, codec);
    }

    public boolean isFloat() {
        return floats != null;
    }

    public long elements() {
        return isFloat() ? floats.length : ints.length;
    }

    /** What the codec sends: elements x 4 for float32 and int32. */
    public long payloadBytes() {
        return isFloat() ? codec.payloadBytes(shape) : elements() * 4L;
    }

    /** The dtype byte of the tensor header: the codec's, 1 for int32. */
    int dtype() {
        return isFloat() ? codec.code() : 1;
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
