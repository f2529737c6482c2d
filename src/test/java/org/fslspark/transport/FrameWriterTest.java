package org.fslspark.transport;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FrameWriterTest {

    /** Pieces of every kind the writer takes: more values than its chunk, a view, a double array, an 'f'-ordered one. */
    @Test
    void writesTheBytesOfTheWholeFrame() throws IOException {
        INDArray big = Nd4j.rand(DataType.FLOAT, 5, 4000, 3);
        INDArray view = Nd4j.rand(DataType.FLOAT, 6, 4000, 3).get(NDArrayIndex.interval(1, 3));
        INDArray dbl = Nd4j.rand(DataType.DOUBLE, 1, 4000, 3);
        INDArray fOrder = Nd4j.rand(DataType.FLOAT, 2, 4000, 3).dup('f');
        INDArray all = Nd4j.concat(0, big, view, dbl.castTo(DataType.FLOAT), fOrder);
        int[] labels = java.util.stream.IntStream.range(0, 40000).toArray();
        Message m = new Message(Message.Type.SMASHED, 3, 42, List.of(Tensor.ofInts(Kind.CONTROL, new int[]{7, 8}),
                Tensor.of(Kind.ACTIVATIONS, all), Tensor.ofInts(Kind.LABELS, labels)));

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        FrameWriter w = new FrameWriter(out, Message.Type.SMASHED, 3, 42, 3);
        w.ints(Kind.CONTROL, new int[]{7, 8});
        w.float32(Kind.ACTIVATIONS, all.shape(), List.of(big, view, dbl, fOrder));
        w.ints(Kind.LABELS, labels);
        assertArrayEquals(FrameCodec.encode(m), out.toByteArray());
    }

    @Test
    void refusesPiecesThatDoNotFillTheShape() throws IOException {
        FrameWriter w = new FrameWriter(new ByteArrayOutputStream(), Message.Type.SMASHED, 0, 0, 1);
        assertThrows(IllegalArgumentException.class,
                () -> w.float32(Kind.ACTIVATIONS, new long[]{3, 2}, List.of(Nd4j.rand(DataType.FLOAT, 2, 2))));
    }

    @Test
    void refusesMoreTensorsThanItsHeaderAnnounced() throws IOException {
        FrameWriter w = new FrameWriter(new ByteArrayOutputStream(), Message.Type.SMASHED, 0, 0, 1);
        w.ints(Kind.CONTROL, new int[]{1});
        assertThrows(IllegalStateException.class, () -> w.ints(Kind.CONTROL, new int[]{2}));
    }
}
