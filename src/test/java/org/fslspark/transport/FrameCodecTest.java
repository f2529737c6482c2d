package org.fslspark.transport;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FrameCodecTest {

    @Test
    void frameRoundTripsTensorsExactly() {
        INDArray z = Nd4j.rand(DataType.FLOAT, 3, 4, 2, 2);
        int[] labels = {1, 0, 9};
        Message m = Message.of(Message.Type.SMASHED, 2, 17, Tensor.of(Kind.ACTIVATIONS, z), Tensor.ofInts(Kind.LABELS, labels));
        Message back = FrameCodec.decode(FrameCodec.encode(m));
        assertEquals(Message.Type.SMASHED, back.type());
        assertEquals(2, back.client());
        assertEquals(17, back.sequence());
        assertEquals(z, back.tensor(0).toArray());
        assertArrayEquals(labels, back.tensor(1).ints());
    }

    @Test
    void wireBytesArePayloadPlusStatedFraming() {
        INDArray z = Nd4j.rand(DataType.FLOAT, 64, 64, 7, 7);
        Message m = Message.of(Message.Type.SMASHED, 0, 0, Tensor.of(Kind.ACTIVATIONS, z), Tensor.ofInts(Kind.LABELS, new int[64]));
        byte[] frame = FrameCodec.encode(m);
        long payload = 64L * 64 * 7 * 7 * 4 + 64 * 4;
        long framing = FrameCodec.HEADER_BYTES + (3 + 4 * 4) + (3 + 4);
        assertEquals(payload + framing, frame.length);
        assertEquals(frame.length, FrameCodec.frameBytes(m));
    }

    @Test
    void meterBooksPayloadAndWireByKind() {
        TrafficMeter meter = new TrafficMeter();
        Message m = Message.of(Message.Type.SMASHED, 0, 0, Tensor.of(Kind.ACTIVATIONS, Nd4j.rand(DataType.FLOAT, 2, 5)),
                Tensor.ofInts(Kind.LABELS, new int[]{1, 2}));
        meter.record(Direction.UP, m);
        meter.record(Direction.UP, m);
        long total = 0;
        for (TrafficMeter.Count c : meter.counts()) {
            assertEquals(Direction.UP, c.direction());
            if (c.kind() == Kind.ACTIVATIONS) {
                assertEquals(2 * 40, c.payloadBytes());
                assertEquals(2 * (40 + 3 + 8 + FrameCodec.HEADER_BYTES), c.wireBytes());
                assertEquals(2, c.messages());
            } else {
                assertEquals(Kind.LABELS, c.kind());
                assertEquals(2 * 8, c.payloadBytes());
            }
            total += c.wireBytes();
        }
        assertEquals(2 * FrameCodec.encode(m).length, total);
    }

    @Test
    void corruptFrameIsRejected() {
        byte[] junk = {1, 2, 3, 4, 5, 6, 7, 8};
        TransportException e = assertThrows(TransportException.class,
                () -> FrameCodec.read(new ByteArrayInputStream(junk)));
        assertTrue(e.getMessage().contains("bad frame magic"), e.getMessage());
    }
}
