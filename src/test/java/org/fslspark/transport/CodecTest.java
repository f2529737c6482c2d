package org.fslspark.transport;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each codec against an independent oracle, on random and adversarial values: float32 bitwise;
 * float16 and bfloat16 the nearest representable value, ties to even; int8 within half a step; top-k
 * exactly the k largest magnitudes; error feedback carries exactly what was not sent; payloads as stated.
 */
class CodecTest {
    private static final long[] CUT = {4, 8, 7, 7};
    private static final List<Codec> ALL = List.of(Float32Codec.INSTANCE, Float16Codec.INSTANCE, BFloat16Codec.INSTANCE,
            Int8Codec.INSTANCE, Int8Codec.PER_SAMPLE, new TopKCodec(0.1f));

    /** The tensor the receiver decodes when {@code values} of {@code shape} are sent in {@code codec}. */
    private static Tensor roundTrip(Codec codec, long[] shape, float[] values) {
        Message m = Message.of(Message.Type.GRADIENT, 0, 3, new Tensor(Kind.GRADIENTS, shape, values, null, codec));
        byte[] frame = FrameCodec.encode(m);
        assertEquals(FrameCodec.frameBytes(m), frame.length, codec + ": frame bytes as metered");
        Tensor back = FrameCodec.decode(frame).tensor(0);
        assertEquals(codec, back.codec());
        assertArrayEquals(shape, back.shape());
        return back;
    }

    private static float[] random(Random rng, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rng.nextGaussian() * scale);
        }
        return v;
    }

    /** Values that break naive codecs: zeros of both signs, subnormals, the extremes of float32, near-ties. */
    private static float[] adversarial() {
        return new float[]{0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, 1e-40f, -3e-39f, 0x1p-24f, 0x1p-25f,
                0x1.8p-25f, 6.1e-5f, 65504f, -65504f, 65519.996f, 1f, -1f, 1.0009766f, 1.0004883f, 3.4e38f, -Float.MAX_VALUE,
                Float.MAX_VALUE, 1e-45f, 123456.7f, -0.33333334f};
    }

    @Test
    void float32RoundTripIsBitwise() {
        float[] v = adversarial();
        Tensor back = roundTrip(Float32Codec.INSTANCE, new long[]{v.length}, v);
        for (int i = 0; i < v.length; i++) {
            assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(back.floats()[i]), "index " + i);
        }
        float[] r = random(new Random(1), 4 * 8 * 7 * 7, 3);
        assertArrayEquals(r, roundTrip(Float32Codec.INSTANCE, CUT, r).floats());
    }

    /** Every finite half as a double, from its fields (independent of the codec's bit arithmetic), by bits. */
    private static double halfValue(int h) {
        int e = (h >>> 10) & 0x1F;
        int m = h & 0x3FF;
        double magnitude = e == 0 ? Math.scalb((double) m, -24) : Math.scalb(1024.0 + m, e - 25);
        return (h & 0x8000) != 0 ? -magnitude : magnitude;
    }

    /** The reference: the finite half nearest to x, ties to the even significand; -1 when the nearest is beyond 65504. */
    private static int nearestHalf(float x, int[] sortedBits, double[] sortedValues) {
        double v = x;
        int at = Arrays.binarySearch(sortedValues, v);
        if (at >= 0) {
            return sortedBits[at];
        }
        int above = -at - 1;
        if (above == sortedValues.length || above == 0) {
            // Beyond ±65504: overflows when at least halfway to 2^16.
            return Math.abs(v) >= 65520 ? -1 : sortedBits[above == 0 ? 0 : sortedValues.length - 1];
        }
        double lo = sortedValues[above - 1];
        double hi = sortedValues[above];
        if (v - lo != hi - v) {
            return v - lo < hi - v ? sortedBits[above - 1] : sortedBits[above];
        }
        return (sortedBits[above - 1] & 1) == 0 ? sortedBits[above - 1] : sortedBits[above];
    }

    @Test
    void float16RoundsToNearestEvenAsAnIndependentReference() {
        List<Integer> finite = IntStream.range(0, 1 << 16).filter(h -> ((h >>> 10) & 0x1F) != 0x1F && h != 0x8000).boxed()
                .sorted(Comparator.comparingDouble(CodecTest::halfValue)).toList();
        int[] bits = finite.stream().mapToInt(Integer::intValue).toArray();
        double[] values = finite.stream().mapToDouble(CodecTest::halfValue).toArray();
        for (int h = 0; h < 1 << 16; h++) {
            if (((h >>> 10) & 0x1F) != 0x1F) {
                assertEquals(halfValue(h), Float16Codec.toFloat(h), "decode of half 0x" + Integer.toHexString(h));
            }
        }
        Random rng = new Random(2);
        List<Float> xs = new ArrayList<>();
        for (float x : adversarial()) {
            xs.add(x);
        }
        for (int i = 0; i + 1 < values.length; i++) {
            xs.add((float) ((values[i] + values[i + 1]) / 2)); // every tie (exact in float: 12 significant bits)
            xs.add(Math.nextUp((float) ((values[i] + values[i + 1]) / 2)));
        }
        for (int i = 0; i < 200_000; i++) {
            xs.add(Float.intBitsToFloat(rng.nextInt() & 0xC7FFFFFF)); // exponents up to 2^16, with the sign
        }
        for (float x : xs) {
            int expected = nearestHalf(x, bits, values);
            int actual = Float16Codec.toHalf(x);
            if (expected == 0 && (Float.floatToRawIntBits(x) & 0x80000000) != 0) {
                expected = 0x8000; // -0 and negatives rounding to zero keep their sign
            }
            assertEquals(expected, actual, "float16 of " + x + " (0x" + Integer.toHexString(Float.floatToRawIntBits(x)) + ")");
        }
    }

    @Test
    void bfloat16RoundsToNearestEven() {
        Random rng = new Random(3);
        List<Float> xs = new ArrayList<>();
        for (float x : adversarial()) {
            xs.add(x);
        }
        for (int i = 0; i < 200_000; i++) {
            int b = rng.nextInt();
            xs.add(Float.intBitsToFloat(i % 3 == 0 ? (b & 0xFFFF0000) | 0x8000 : b)); // every third one a tie
        }
        for (float x : xs) {
            if (!Float.isFinite(x)) {
                continue;
            }
            // The two bfloat16 neighbours of x, by magnitude, in double.
            int bits = Float.floatToRawIntBits(x);
            int down = bits & 0xFFFF0000;
            int up = down + 0x10000;
            double dDown = Math.abs((double) x - Float.intBitsToFloat(down));
            boolean beyond = (up & 0x7F800000) == 0x7F800000; // the next one up is 2^128: rounding there overflows
            double dUp = Math.abs(Math.abs((double) x) - (beyond ? Math.scalb(1.0, 128) : Math.abs(Float.intBitsToFloat(up))));
            int nearest = dDown < dUp || dDown == dUp && ((down >>> 16) & 1) == 0 ? down : up;
            assertEquals(nearest == up && beyond ? -1 : nearest >>> 16, BFloat16Codec.toBFloat16(x), "bfloat16 of " + x);
        }
        float[] v = random(rng, 4 * 8 * 7 * 7, 1e-3f);
        float[] back = roundTrip(BFloat16Codec.INSTANCE, CUT, v).floats();
        for (int i = 0; i < v.length; i++) {
            assertEquals(Float.intBitsToFloat(BFloat16Codec.toBFloat16(v[i]) << 16), back[i]);
        }
    }

    @Test
    void int8DecodesWithinHalfAStep() {
        Random rng = new Random(4);
        List<float[]> rows = new ArrayList<>();
        rows.add(new float[49]); // zeros
        float[] equal = new float[49];
        Arrays.fill(equal, -7.25f);
        rows.add(equal);
        rows.add(random(rng, 49, 1));
        rows.add(random(rng, 49, 1e-41f)); // subnormals
        float[] huge = random(rng, 49, 1e37f);
        huge[0] = -Float.MAX_VALUE;
        huge[1] = Float.MAX_VALUE;
        rows.add(huge);
        float[] relu = random(rng, 49, 2);
        for (int i = 0; i < relu.length; i++) {
            relu[i] = Math.max(0, relu[i]);
        }
        rows.add(relu);
        rows.add(Arrays.copyOf(adversarial(), 49));
        float[] v = new float[rows.size() * 49];
        for (int r = 0; r < rows.size(); r++) {
            System.arraycopy(rows.get(r), 0, v, r * 49, 49);
        }
        // The same rows of 49 values: one sample's channels for int8, samples of [r, 7, 7] for int8:sample.
        assertWithinHalfAStep(rows, v, roundTrip(Int8Codec.INSTANCE, new long[]{1, rows.size(), 7, 7}, v).floats());
        assertWithinHalfAStep(rows, v, roundTrip(Int8Codec.PER_SAMPLE, new long[]{rows.size(), 7, 7}, v).floats());
    }

    private static void assertWithinHalfAStep(List<float[]> rows, float[] v, float[] back) {
        float[] relu = rows.get(5);
        for (int r = 0; r < rows.size(); r++) {
            float min = Float.POSITIVE_INFINITY;
            float max = Float.NEGATIVE_INFINITY;
            for (int i = r * 49; i < (r + 1) * 49; i++) {
                min = Math.min(min, v[i]);
                max = Math.max(max, v[i]);
            }
            double step = Int8Codec.step(min, max);
            assertTrue(step >= (max - (double) min) / 255, "the step spans the row");
            for (int i = r * 49; i < (r + 1) * 49; i++) {
                double error = Math.abs((double) back[i] - v[i]);
                assertTrue(error <= step / 2 * (1 + 1e-6) + Math.ulp(v[i]) / 2,
                        "row " + r + ": " + v[i] + " came back " + back[i] + ", step " + step);
            }
        }
        for (int i = 0; i < 49; i++) {
            assertEquals(0f, back[i], "zeros exactly");
            assertEquals(-7.25f, back[49 + i], "a constant row exactly");
            assertEquals(relu[i] == 0 ? 0f : back[5 * 49 + i], back[5 * 49 + i], "ReLU zeros exactly");
        }
    }

    @Test
    void topKKeepsExactlyTheKLargestMagnitudesLowerIndicesFirstOnTies() {
        Random rng = new Random(5);
        TopKCodec codec = new TopKCodec(0.1f);
        for (int trial = 0; trial < 20; trial++) {
            float[] v = random(rng, 4 * 8 * 7 * 7, 1);
            for (int i = 0; i < v.length; i += 1 + rng.nextInt(5)) {
                v[i] = (i % 2 == 0 ? 1 : -1) * Math.round(v[i] * 4) / 4f; // many equal magnitudes, zeros included
            }
            int k = (int) codec.kept(v.length);
            assertEquals((int) Math.floor(0.1f * (double) v.length), k);
            Integer[] order = IntStream.range(0, v.length).boxed().toArray(Integer[]::new);
            Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -Math.abs(v[i])).thenComparingInt(i -> i));
            float[] expected = new float[v.length];
            for (int j = 0; j < k; j++) {
                expected[order[j]] = v[order[j]];
            }
            Tensor back = roundTrip(codec, CUT, v);
            assertArrayEquals(expected, back.floats());
            assertEquals(4 + 8L * k, back.payloadBytes());
        }
        // All equal: the first k; a tensor of one value keeps it.
        float[] same = new float[40];
        Arrays.fill(same, 2f);
        float[] back = roundTrip(new TopKCodec(0.25f), new long[]{40}, same).floats();
        for (int i = 0; i < 40; i++) {
            assertEquals(i < 10 ? 2f : 0f, back[i]);
        }
        assertArrayEquals(new float[]{-3f}, roundTrip(codec, new long[]{1}, new float[]{-3f}).floats());
    }

    @Test
    void errorFeedbackAddsWhatWasNotSentToTheNextTensorOfTheStream() {
        Random rng = new Random(6);
        Codecs codecs = new Codecs(new TopKCodec(0.05f), Float32Codec.INSTANCE, Float32Codec.INSTANCE);
        ErrorFeedback feedback = new ErrorFeedback();
        float[] carried = new float[4 * 8 * 7 * 7];
        for (int step = 0; step < 5; step++) {
            float[] x = random(rng, carried.length, 1);
            Message sent = codecs.prepare(Message.of(Message.Type.SMASHED, 0, step, new Tensor(Kind.ACTIVATIONS, CUT, x, null),
                    Tensor.ofInts(Kind.LABELS, new int[4])), feedback);
            float[] v = new float[x.length];
            for (int i = 0; i < v.length; i++) {
                v[i] = x[i] + carried[i];
            }
            assertArrayEquals(v, sent.tensor(0).floats(), "the residual is added to the next tensor");
            float[] received = FrameCodec.decode(FrameCodec.encode(sent)).tensor(0).floats();
            ErrorFeedback.Residual r = feedback.residuals().get(Kind.ACTIVATIONS);
            for (int i = 0; i < v.length; i++) {
                // What was sent and what is carried partition the compensated tensor exactly.
                assertEquals(v[i], received[i] + r.values()[i]);
                assertTrue(received[i] == 0 || r.values()[i] == 0);
            }
            carried = r.values();
        }
        // A tensor of another shape neither takes nor keeps the old residual's shape.
        float[] small = random(rng, 2 * 8 * 7 * 7, 1);
        Message sent = codecs.prepare(Message.of(Message.Type.SMASHED, 0, 9,
                new Tensor(Kind.ACTIVATIONS, new long[]{2, 8, 7, 7}, small, null)), feedback);
        assertArrayEquals(small, sent.tensor(0).floats());
        assertArrayEquals(new long[]{2, 8, 7, 7}, feedback.residuals().get(Kind.ACTIVATIONS).shape());
    }

    @Test
    void payloadBytesFollowTheStatedFormulas() {
        long n = 4 * 8 * 7 * 7;
        assertEquals(4 * n, Float32Codec.INSTANCE.payloadBytes(CUT));
        assertEquals(2 * n, Float16Codec.INSTANCE.payloadBytes(CUT));
        assertEquals(2 * n, BFloat16Codec.INSTANCE.payloadBytes(CUT));
        assertEquals(n + 8 * 4 * 8, Int8Codec.INSTANCE.payloadBytes(CUT)); // a row per (sample, channel)
        assertEquals(1000 + 8 * 10, Int8Codec.INSTANCE.payloadBytes(new long[]{10, 100}));
        assertEquals(1000 + 8, Int8Codec.INSTANCE.payloadBytes(new long[]{1000}));
        assertEquals(n + 8 * 4, Int8Codec.PER_SAMPLE.payloadBytes(CUT)); // a row per sample
        assertEquals(1000 + 8 * 10, Int8Codec.PER_SAMPLE.payloadBytes(new long[]{10, 100}));
        assertEquals(1000 + 8, Int8Codec.PER_SAMPLE.payloadBytes(new long[]{1000}));
        assertEquals(4 + 8 * (n / 10), new TopKCodec(0.1f).payloadBytes(CUT));
        Random rng = new Random(7);
        for (Codec c : ALL) {
            float[] v = random(rng, (int) n, 1);
            Message m = Message.of(Message.Type.SMASHED, 0, 0, new Tensor(Kind.ACTIVATIONS, CUT, v, null, c),
                    Tensor.ofInts(Kind.LABELS, new int[4]));
            TrafficMeter meter = new TrafficMeter();
            meter.record(Direction.UP, m);
            long wire = meter.counts().stream().mapToLong(TrafficMeter.Count::wireBytes).sum();
            assertEquals(FrameCodec.encode(m).length, wire, c + ": the meter books the frame's bytes");
            assertEquals(c.payloadBytes(CUT), meter.counts().stream().filter(x -> x.kind() == Kind.ACTIVATIONS)
                    .mapToLong(TrafficMeter.Count::payloadBytes).sum(), c.name());
        }
    }

    @Test
    void lossyCodecsRefuseToSendWhatTheReceiverWouldRefuse() {
        for (Codec c : ALL.subList(1, ALL.size())) {
            for (float bad : new float[]{Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                float[] v = new float[20];
                v[13] = bad;
                Message m = Message.of(Message.Type.SMASHED, 0, 42, new Tensor(Kind.ACTIVATIONS, new long[]{20}, v, null, c));
                NonFiniteValueException e = assertThrows(NonFiniteValueException.class, () -> FrameCodec.encode(m), c.name());
                assertEquals(Kind.ACTIVATIONS, e.kind());
                assertEquals(42, e.sequence());
                assertTrue(e.getMessage().contains("at index 13") && e.getMessage().contains(c.name()), e.getMessage());
            }
        }
        NonFiniteValueException e = assertThrows(NonFiniteValueException.class,
                () -> FrameCodec.encode(Message.of(Message.Type.GRADIENT, 0, 1, new Tensor(Kind.GRADIENTS, new long[]{2},
                        new float[]{1, 65520f}, null, Float16Codec.INSTANCE))));
        assertTrue(e.getMessage().contains("65504"), e.getMessage());
        assertEquals(65504f, roundTrip(Float16Codec.INSTANCE, new long[]{1}, new float[]{65519.99f}).floats()[0]);
        assertThrows(NonFiniteValueException.class, () -> FrameCodec.encode(Message.of(Message.Type.GRADIENT, 0, 1,
                new Tensor(Kind.GRADIENTS, new long[]{1}, new float[]{Float.MAX_VALUE}, null, BFloat16Codec.INSTANCE))));
    }

    /** A one-tensor GRADIENT frame of {@code codec} with its payload bytes replaced by {@code edit}'s. */
    private static byte[] edited(Codec codec, float[] v, java.util.function.Consumer<java.nio.ByteBuffer> edit) {
        byte[] f = FrameCodec.encode(Message.of(Message.Type.GRADIENT, 0, 0, new Tensor(Kind.GRADIENTS, new long[]{1, v.length},
                v, null, codec)));
        edit.accept(java.nio.ByteBuffer.wrap(f, FrameCodec.HEADER_BYTES + 3 + 8, f.length - FrameCodec.HEADER_BYTES - 11)
                .slice().order(java.nio.ByteOrder.LITTLE_ENDIAN));
        return f;
    }

    @Test
    void hostileCodecPayloadsAreRefused() {
        float[] v = random(new Random(8), 40, 1);
        Map<String, byte[]> cases = Map.of(
                "int8 row with offset NaN", edited(Int8Codec.INSTANCE, v, b -> b.putFloat(0, Float.NaN)),
                "int8 row with offset", edited(Int8Codec.INSTANCE, v, b -> b.putFloat(4, -1f)),
                "is not finite", edited(Int8Codec.INSTANCE, v, b -> b.putFloat(4, Float.MAX_VALUE)),
                "int8 row with offset Infinity", edited(Int8Codec.PER_SAMPLE, v, b -> b.putFloat(0, Float.POSITIVE_INFINITY)),
                "top-k fraction 0.9", edited(new TopKCodec(0.25f), v, b -> b.putFloat(0, 0.9f)),
                "top-k index 40", edited(new TopKCodec(0.25f), v, b -> b.putInt(4 + 8 * 9, 40)),
                "top-k index", edited(new TopKCodec(0.25f), v, b -> b.putInt(4 + 8, b.getInt(4))),
                "value NaN", edited(Float16Codec.INSTANCE, v, b -> b.putShort(6, (short) 0x7E00)),
                "value Infinity", edited(BFloat16Codec.INSTANCE, v, b -> b.putShort(6, (short) 0x7F80)));
        FrameLimits limits = FrameLimits.of(Map.of(Kind.GRADIENTS, List.of(FrameLimits.Shape.exact(1, 40))));
        cases.forEach((expected, frame) -> {
            TransportException e = assertThrows(TransportException.class, () -> FrameCodec.decode(frame, limits), expected);
            assertTrue(e.getMessage().contains(expected), expected + ": " + e.getMessage());
        });
        byte[] whole = FrameCodec.encode(Message.of(Message.Type.GRADIENT, 0, 0, new Tensor(Kind.GRADIENTS, new long[]{1, 40}, v,
                null, Int8Codec.INSTANCE)));
        TransportException cut = assertThrows(TransportException.class,
                () -> FrameCodec.read(new ByteArrayInputStream(Arrays.copyOf(whole, whole.length - 1))));
        assertTrue(cut.getMessage().contains("truncated"), cut.getMessage());
        assertNotNull(FrameCodec.decode(whole, limits));
    }

    @Test
    void configNamesParseAndModelsRefuseTopK() {
        assertEquals(Float16Codec.INSTANCE, Codec.parse("float16"));
        assertEquals(Int8Codec.PER_SAMPLE, Codec.parse("int8:sample"));
        assertEquals("int8:sample", Int8Codec.PER_SAMPLE.name());
        assertEquals(new TopKCodec(0.1f), Codec.parse("topk:0.1"));
        assertEquals("topk:0.1", Codec.parse(" topk:0.1 ").name());
        assertThrows(IllegalArgumentException.class, () -> Codec.parse("topk:0.6"));
        assertThrows(IllegalArgumentException.class, () -> Codec.parse("topk:x"));
        assertThrows(IllegalArgumentException.class, () -> Codec.parse("fp8"));
        assertThrows(IllegalArgumentException.class,
                () -> new Codecs(Float32Codec.INSTANCE, Float32Codec.INSTANCE, new TopKCodec(0.1f)));
    }
}
