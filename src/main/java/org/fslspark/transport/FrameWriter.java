package org.fslspark.transport;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;

/**
 * Writes a frame to a stream tensor by tensor, a float32 tensor from ND4J arrays piece by piece: the bytes of
 * {@link FrameCodec#encode} for the same message, without the frame, or a tensor's values, ever whole in memory. How a
 * site writes tens of MB of its own state (FSL-SAGE's alignment buffers) in a round checkpoint: through a small chunk
 * instead of three whole copies, whose allocation cost more than the writing (docs/RELIABILITY.md).
 */
public final class FrameWriter {
    private static final int CHUNK_FLOATS = 16 * 1024;

    private final OutputStream out;
    private final ByteBuffer chunk = ByteBuffer.allocate(4 * CHUNK_FLOATS);
    private int tensorsLeft;

    /** Writes the frame's header: {@code tensors} tensors must follow. */
    public FrameWriter(OutputStream out, Message.Type type, int client, long sequence, int tensors) throws IOException {
        this.out = out;
        this.tensorsLeft = tensors;
        FrameCodec.putHeader(chunk, type, client, sequence, tensors);
        flushChunk();
    }

    /** An int32 tensor of {@code values}. */
    public void ints(Kind kind, int[] values) throws IOException {
        startTensor(kind, 1, new long[]{values.length});
        chunk.order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            if (!chunk.hasRemaining()) {
                flushChunk();
            }
            chunk.putInt(v);
        }
        flushChunk();
    }

    /**
     * A float32 tensor of {@code shape} whose values are those of {@code pieces}, one after another, each read in
     * row-major order; their lengths must add up to the shape's.
     */
    public void float32(Kind kind, long[] shape, List<INDArray> pieces) throws IOException {
        long total = pieces.stream().mapToLong(INDArray::length).sum();
        if (total != Codec.elements(shape)) {
            throw new IllegalArgumentException(kind + ": pieces of " + total + " values for a shape of "
                    + Codec.elements(shape));
        }
        startTensor(kind, Float32Codec.INSTANCE.code(), shape);
        float[] values = new float[CHUNK_FLOATS];
        for (INDArray piece : pieces) {
            INDArray c = piece.dataType() == DataType.FLOAT && piece.ordering() == 'c' && !piece.isView()
                    && piece.data().length() == piece.length() ? piece : piece.castTo(DataType.FLOAT).dup('c');
            FloatBuffer from = c.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
            for (long left = c.length(); left > 0; ) {
                int n = (int) Math.min(left, CHUNK_FLOATS);
                from.get(values, 0, n);
                chunk.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(values, 0, n);
                chunk.position(4 * n);
                flushChunk();
                left -= n;
            }
        }
    }

    private void startTensor(Kind kind, int dtype, long[] shape) throws IOException {
        if (tensorsLeft-- <= 0) {
            throw new IllegalStateException("the frame's header announced fewer tensors");
        }
        chunk.order(ByteOrder.BIG_ENDIAN);
        FrameCodec.putTensorHeader(chunk, kind, dtype, shape);
        flushChunk();
    }

    private void flushChunk() throws IOException {
        out.write(chunk.array(), 0, chunk.position());
        chunk.clear();
    }
}
