package org.fslspark.transport;

import org.fslspark.transport.FrameLimits.Shape;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Hostile frames: seeded random and mutated frames, each of which must be refused with a
 * TransportException or decode to a message within the limits, never anything else, never
 * allocating beyond the limits' frame cap, in bounded time.
 */
class FrameFuzzTest {
    private static final int BATCH = 8;
    private static final long[] CUT = {8, 4, 4};
    private static final int CLASSES = 10;
    private static final int CLIENT_PARAMS = 500;
    private static final int SERVER_PARAMS = 300;
    private static final int AUX_PARAMS = 50;

    /** The server end of a per-batch channel, for client 1. */
    static final FrameLimits SERVER_END = FrameLimits.of(Map.of(
            Kind.ACTIVATIONS, List.of(Shape.batchOf(BATCH, CUT)),
            Kind.LABELS, List.of(Shape.upTo(BATCH)),
            Kind.MODEL, List.of(Shape.exact(1, CLIENT_PARAMS)),
            Kind.AUXILIARY_MODEL, List.of(Shape.exact(1, AUX_PARAMS)))).withLabels(1, CLASSES).forClient(1);
    /** A client's end. */
    static final FrameLimits CLIENT_END = FrameLimits.of(Map.of(
            Kind.MODEL, List.of(Shape.exact(1, CLIENT_PARAMS)),
            Kind.GRADIENTS, List.of(Shape.batchOf(BATCH, CUT)),
            Kind.CONTROL, List.of(Shape.upTo(FrameLimits.MAX_ERROR_CHARS))));
    /** The driver's models. */
    static final FrameLimits MODELS = FrameLimits.of(Map.of(
            Kind.MODEL, List.of(Shape.exact(1, CLIENT_PARAMS), Shape.exact(1, SERVER_PARAMS)),
            Kind.AUXILIARY_MODEL, List.of(Shape.exact(1, AUX_PARAMS))));
    /** Internal frames: any layout, a small cap. */
    static final FrameLimits PERMISSIVE = FrameLimits.permissive(1 << 20);

    private record Seed(String name, Message message, FrameLimits limits, byte[] encoded) {
        Seed(String name, Message message, FrameLimits limits) {
            this(name, message, limits, FrameCodec.encode(message));
        }
    }

    private static float[] floats(Random rng, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = rng.nextFloat() * 2 - 1;
        }
        return f;
    }

    private static Tensor batchTensor(Kind kind, Random rng, int b) {
        long[] shape = {b, CUT[0], CUT[1], CUT[2]};
        return new Tensor(kind, shape, floats(rng, (int) (b * CUT[0] * CUT[1] * CUT[2])), null);
    }

    private static Tensor vector(Kind kind, Random rng, int n) {
        return new Tensor(kind, new long[]{1, n}, floats(rng, n), null);
    }

    /** Valid frames of the kinds the runtime exchanges, with the limits of the end that reads them. */
    private static List<Seed> seeds(Random rng) {
        int b = 1 + rng.nextInt(BATCH);
        int[] labels = rng.ints(b, 0, CLASSES).toArray();
        List<Seed> s = new ArrayList<>();
        s.add(new Seed("smashed", Message.of(Message.Type.SMASHED, 1, 7, batchTensor(Kind.ACTIVATIONS, rng, b),
                Tensor.ofInts(Kind.LABELS, labels)), SERVER_END));
        s.add(new Seed("hello", Message.of(Message.Type.HELLO, 1, 0), SERVER_END));
        s.add(new Seed("final model", Message.of(Message.Type.MODEL, 1, 0, vector(Kind.MODEL, rng, CLIENT_PARAMS),
                vector(Kind.AUXILIARY_MODEL, rng, AUX_PARAMS)), SERVER_END));
        s.add(new Seed("gradient", Message.of(Message.Type.GRADIENT, 1, 7, batchTensor(Kind.GRADIENTS, rng, b)), CLIENT_END));
        s.add(new Seed("model download", Message.of(Message.Type.MODEL, 1, 0, vector(Kind.MODEL, rng, CLIENT_PARAMS)), CLIENT_END));
        s.add(new Seed("error", FrameChannel.error("server failed: " + rng.nextInt()), CLIENT_END));
        s.add(new Seed("local upload", Message.of(Message.Type.MODEL, 2, 3, vector(Kind.MODEL, rng, CLIENT_PARAMS),
                vector(Kind.MODEL, rng, SERVER_PARAMS)), MODELS));
        s.add(new Seed("probe", Message.of(Message.Type.PROBE, 0, 5, new Tensor(Kind.CONTROL, new long[]{64}, new float[64], null)),
                PERMISSIVE));
        return s;
    }

    /** Offsets of each tensor's kind byte in an encoded message. */
    private static int[] tensorOffsets(Message m) {
        int[] at = new int[m.tensors().size()];
        int o = FrameCodec.HEADER_BYTES;
        for (int i = 0; i < at.length; i++) {
            at[i] = o;
            o += FrameCodec.tensorHeaderBytes(m.tensor(i)) + (int) m.tensor(i).payloadBytes();
        }
        return at;
    }

    private static void putInt(byte[] frame, int at, int v) {
        ByteBuffer.wrap(frame).putInt(at, v);
    }

    private static final int MUTATIONS = 15;

    /** One mutation of an encoded valid frame, chosen by {@code which}; returns the bytes the reader gets. */
    private static byte[] mutate(Random rng, Seed seed, int which) {
        Message m = seed.message();
        byte[] f = seed.encoded().clone();
        int[] tensors = tensorOffsets(m);
        int t = tensors.length == 0 ? -1 : tensors[rng.nextInt(tensors.length)];
        int rank = t < 0 ? 0 : f[t + 2];
        switch (which) {
            case 0 -> { // truncated anywhere after the first byte
                return Arrays.copyOf(f, 1 + rng.nextInt(f.length - 1));
            }
            case 1 -> f[rng.nextInt(4)] ^= (byte) (1 + rng.nextInt(255)); // wrong magic
            case 2 -> f[4] = (byte) (Message.Type.values().length + rng.nextInt(256 - Message.Type.values().length));
            case 3 -> f[5 + rng.nextInt(4)] ^= (byte) (1 + rng.nextInt(255)); // another client id
            case 4 -> f[17] = (byte) rng.nextInt(256); // tensor count
            case 5 -> {
                if (t >= 0) { // unknown or other kind byte
                    f[t] = (byte) rng.nextInt(256);
                }
            }
            case 6 -> {
                if (t >= 0) { // unknown or swapped dtype byte
                    f[t + 1] = (byte) rng.nextInt(256);
                }
            }
            case 7 -> {
                if (t >= 0) { // rank 0 or too large, or merely another rank
                    f[t + 2] = (byte) (rng.nextBoolean() ? 0 : rng.nextInt(256));
                }
            }
            case 8 -> {
                if (rank > 0) { // a negative or zero dimension
                    putInt(f, t + 3 + 4 * rng.nextInt(rank), -rng.nextInt(Integer.MAX_VALUE));
                }
            }
            case 9 -> {
                if (rank > 0) { // a huge dimension: must be refused before it is allocated
                    putInt(f, t + 3 + 4 * rng.nextInt(rank), Integer.MAX_VALUE - rng.nextInt(1 << 20));
                }
            }
            case 10 -> {
                if (rank > 0) { // a slightly different dimension: the element count no longer matches the values
                    int at = t + 3 + 4 * rng.nextInt(rank);
                    int dim = ByteBuffer.wrap(f).getInt(at);
                    putInt(f, at, Math.max(1, dim + (rng.nextBoolean() ? 1 : -1) * (1 + rng.nextInt(3))));
                }
            }
            case 11 -> {
                if (t >= 0 && f[t + 1] == 0) { // NaN or an infinity among float values
                    int values = t + 3 + 4 * rank;
                    int n = (f.length - values) / 4;
                    float bad = new float[]{Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}[rng.nextInt(3)];
                    ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).putFloat(values + 4 * rng.nextInt(Math.max(1, Math.min(n, 64))), bad);
                }
            }
            case 12 -> { // a few random bytes changed anywhere
                for (int i = 0, n = 1 + rng.nextInt(4); i < n; i++) {
                    f[rng.nextInt(f.length)] = (byte) rng.nextInt(256);
                }
            }
            case 13 -> { // random bytes behind a valid magic
                byte[] r = new byte[4 + rng.nextInt(200)];
                rng.nextBytes(r);
                putInt(r, 0, FrameCodec.MAGIC);
                return r;
            }
            default -> { // random bytes
                byte[] r = new byte[1 + rng.nextInt(200)];
                rng.nextBytes(r);
                return r;
            }
        }
        return f;
    }

    /** What reading {@code bytes} came to: a refusal's message, or null for a valid message (checked here). */
    private static String readOne(byte[] bytes, FrameLimits limits, String what) {
        FrameReader reader = new FrameReader(limits);
        try {
            Message m = reader.read(new ByteArrayInputStream(bytes));
            if (m == null) {
                fail(what + ": an empty read of " + bytes.length + " bytes");
            }
            assertWithin(m, limits, what);
            return null;
        } catch (TransportException e) {
            assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), what + ": a refusal without a message");
            return e.getMessage();
        } catch (IOException | RuntimeException | Error e) {
            throw new AssertionError(what + ": " + e, e);
        } finally {
            assertTrue(reader.allocatedBytes() <= limits.maxFrameBytes(),
                    what + ": allocated " + reader.allocatedBytes() + " bytes, over the cap " + limits.maxFrameBytes());
        }
    }

    private static void assertWithin(Message m, FrameLimits limits, String what) {
        assertTrue(FrameCodec.frameBytes(m) <= limits.maxFrameBytes(), what + ": frame over the cap");
        if (limits.client() >= 0) {
            assertEquals(limits.client(), m.client(), what);
        }
        for (Tensor t : m.tensors()) {
            List<Shape> shapes = limits.shapes(t.kind());
            assertTrue(shapes == null || shapes.stream().anyMatch(s -> s.allows(t.shape())), what + ": " + t + " not allowed");
            long product = Arrays.stream(t.shape()).reduce(1, (a, b) -> a * b);
            assertEquals(product, t.elements(), what + ": " + t);
            if (t.isFloat()) {
                for (float v : t.floats()) {
                    assertTrue(Float.isFinite(v), what + ": a non-finite value passed");
                }
            }
        }
    }

    @Test
    void tenThousandMutatedAndRandomFramesAreRefusedCleanlyOrDecodeWithinLimits() {
        int frames = 12_000;
        Map<String, Integer> refusals = new TreeMap<>();
        int[] valid = new int[1];
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            Random rng = new Random(14);
            List<Seed> seeds = new ArrayList<>();
            for (int i = 0; i < 40; i++) { // a pool of valid frames, with various batch sizes and labels
                seeds.addAll(seeds(rng));
            }
            for (int i = 0; i < frames; i++) {
                Seed seed = seeds.get(rng.nextInt(seeds.size()));
                int which = i % MUTATIONS;
                String what = "frame " + i + " (" + seed.name() + ", mutation " + which + ")";
                String refused = readOne(mutate(rng, seed, which), seed.limits(), what);
                if (refused == null) {
                    valid[0]++;
                } else {
                    // Group by the check: the message without its client and numbers.
                    String check = refused.replaceFirst("^(refused|truncated) frame( from client -?\\d+)?: ", "$1: ")
                            .replaceAll("-?\\d+", "#");
                    refusals.merge(check, 1, Integer::sum);
                }
            }
        });
        int refused = refusals.values().stream().mapToInt(Integer::intValue).sum();
        assertEquals(frames, refused + valid[0]);
        // Most mutations break a frame; every check must have been reached by some of them.
        assertTrue(refused > frames * 3 / 4, refused + " refused of " + frames + ": " + refusals);
        for (String check : List.of("bad frame magic", "unknown message type byte", "it claims client", "tensor count",
                "unknown tensor kind byte", "unknown dtype byte", "rank", "dimensions must be positive", "over the cap",
                "is not the expected", "is not finite", "truncated", "labels for")) {
            assertTrue(refusals.keySet().stream().anyMatch(k -> k.contains(check)), "no refusal by '" + check + "': " + refusals);
        }
    }

    @Test
    void everyValidSeedDecodesUnderItsLimits() {
        Random rng = new Random(1);
        for (int i = 0; i < 20; i++) {
            for (Seed s : seeds(rng)) {
                assertNull(readOne(FrameCodec.encode(s.message()), s.limits(), s.name()), s.name());
            }
        }
    }

    /** A frame's header, its tensor count and one tensor header claiming {@code dims}. */
    private static byte[] claim(Message.Type type, Kind kind, int dtype, int... dims) {
        ByteBuffer b = ByteBuffer.allocate(FrameCodec.HEADER_BYTES + 3 + 4 * dims.length);
        b.putInt(FrameCodec.MAGIC).put((byte) type.ordinal()).putInt(1).putLong(0).put((byte) 1);
        b.put((byte) kind.ordinal()).put((byte) dtype).put((byte) dims.length);
        for (int d : dims) {
            b.putInt(d);
        }
        return b.array();
    }

    @Test
    void hugeClaimsAreRefusedBeforeAnythingIsAllocated() {
        // 2^31-1 x 2^31-1 floats from a 33-byte frame, under every kind of limits, and 8 GB in one dimension.
        for (FrameLimits limits : List.of(FrameLimits.permissive(FrameLimits.DEFAULT_MAX_FRAME_BYTES), CLIENT_END, SERVER_END)) {
            for (byte[] frame : List.of(claim(Message.Type.GRADIENT, Kind.GRADIENTS, 0, Integer.MAX_VALUE, Integer.MAX_VALUE),
                    claim(Message.Type.GRADIENT, Kind.GRADIENTS, 0, Integer.MAX_VALUE))) {
                FrameReader reader = new FrameReader(limits);
                TransportException e = assertThrows(TransportException.class, () -> reader.read(new ByteArrayInputStream(frame)));
                assertEquals(0, reader.allocatedBytes(), e.getMessage());
                assertTrue(e.getMessage().contains("over the cap") || e.getMessage().contains("not accepted here")
                        || e.getMessage().contains("claims client"), e.getMessage());
            }
        }
        // A claim within the permissive cap whose values never come: at most the cap allocated, then end of stream.
        FrameLimits small = FrameLimits.permissive(1 << 20);
        FrameReader reader = new FrameReader(small);
        byte[] frame = claim(Message.Type.PROBE, Kind.CONTROL, 0, (1 << 18) - 20);
        TransportException e = assertThrows(TransportException.class, () -> reader.read(new ByteArrayInputStream(frame)));
        assertTrue(e.getMessage().startsWith("truncated frame from client 1"), e.getMessage());
        assertTrue(reader.allocatedBytes() <= small.maxFrameBytes(), "allocated " + reader.allocatedBytes());
        // One more value and the same claim is refused unallocated.
        FrameReader over = new FrameReader(small);
        e = assertThrows(TransportException.class,
                () -> over.read(new ByteArrayInputStream(claim(Message.Type.PROBE, Kind.CONTROL, 0, 1 << 18))));
        assertTrue(e.getMessage().contains("over the cap of 1048576 bytes"), e.getMessage());
        assertEquals(0, over.allocatedBytes());
    }

    @Test
    void eachCheckNamesItselfAndTheOffendingValue() {
        Random rng = new Random(3);
        Message smashed = Message.of(Message.Type.SMASHED, 1, 0, batchTensor(Kind.ACTIVATIONS, rng, 2),
                Tensor.ofInts(Kind.LABELS, new int[]{3, 4}));
        Map<String, byte[]> cases = new java.util.LinkedHashMap<>();
        byte[] f = FrameCodec.encode(smashed);
        f[4] = 42;
        cases.put("unknown message type byte 42", f);
        f = FrameCodec.encode(smashed);
        putInt(f, 5, 3);
        cases.put("refused frame from client 3: it claims client 3 on the channel of client 1", f);
        f = FrameCodec.encode(smashed);
        f[FrameCodec.HEADER_BYTES] = 99;
        cases.put("unknown tensor kind byte 99 (tensor 0)", f);
        f = FrameCodec.encode(smashed);
        f[FrameCodec.HEADER_BYTES + 1] = 7;
        cases.put("unknown dtype byte 7 of ACTIVATIONS", f);
        f = FrameCodec.encode(smashed);
        f[FrameCodec.HEADER_BYTES + 2] = 9;
        cases.put("rank 9 of ACTIVATIONS outside 1.." + FrameLimits.MAX_RANK, f);
        f = FrameCodec.encode(smashed);
        putInt(f, FrameCodec.HEADER_BYTES + 3 + 4, -5);
        cases.put("dimension 1 of ACTIVATIONS is -5; dimensions must be positive", f);
        f = FrameCodec.encode(smashed);
        putInt(f, FrameCodec.HEADER_BYTES + 3 + 4, 17);
        cases.put("ACTIVATIONS shape [2, 17, 4, 4] is not the expected [1..8, 8, 4, 4]", f);
        f = FrameCodec.encode(smashed);
        ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).putFloat(FrameCodec.HEADER_BYTES + 3 + 16 + 4 * 5, Float.NaN);
        cases.put("ACTIVATIONS value NaN at index 5 is not finite", f);
        f = FrameCodec.encode(Message.of(Message.Type.SMASHED, 1, 0, batchTensor(Kind.ACTIVATIONS, rng, 2),
                Tensor.ofInts(Kind.LABELS, new int[]{3, 10})));
        cases.put("label 10 at index 1 outside [0, 10)", f);
        f = FrameCodec.encode(Message.of(Message.Type.SMASHED, 1, 0, batchTensor(Kind.ACTIVATIONS, rng, 2),
                Tensor.ofInts(Kind.LABELS, new int[]{3})));
        cases.put("1 labels for 2 samples (expected 2)", f);
        f = FrameCodec.encode(Message.of(Message.Type.SMASHED, 1, 0, batchTensor(Kind.ACTIVATIONS, rng, 2)));
        cases.put("a SMASHED message carries [[ACTIVATIONS, LABELS]], not 1 tensors", f);
        f = FrameCodec.encode(Message.of(Message.Type.GRADIENT, 1, 0, batchTensor(Kind.ACTIVATIONS, rng, 2)));
        cases.put("tensor 0 of a GRADIENT message is ACTIVATIONS", f);
        f = FrameCodec.encode(Message.of(Message.Type.MODEL, 1, 0, vector(Kind.MODEL, rng, CLIENT_PARAMS + 1)));
        cases.put("MODEL shape [1, 501] is not the expected [1, 500]", f);
        f = Arrays.copyOf(FrameCodec.encode(smashed), 30);
        cases.put("truncated frame from client 1: the stream ended inside tensor 0", f);
        for (Map.Entry<String, byte[]> c : cases.entrySet()) {
            String message = readOne(c.getValue(), SERVER_END, c.getKey());
            assertTrue(message != null && message.contains(c.getKey()), "expected '" + c.getKey() + "' in: " + message);
        }
    }

    @Test
    void theServerEndRefusesKindsItNeverReceives() {
        Random rng = new Random(5);
        byte[] error = FrameCodec.encode(Message.of(Message.Type.ERROR, 1, 0, Tensor.ofInts(Kind.CONTROL, new int[]{'n', 'o'})));
        String message = readOne(error, SERVER_END, "error at the server end");
        assertTrue(message != null && message.contains("CONTROL tensors are not accepted here"), message);
        byte[] gradient = FrameCodec.encode(Message.of(Message.Type.GRADIENT, 1, 0, batchTensor(Kind.GRADIENTS, rng, 1)));
        message = readOne(gradient, SERVER_END, "gradient at the server end");
        assertTrue(message != null && message.contains("GRADIENTS tensors are not accepted here"), message);
    }

    @Test
    void errorTextWithInvalidCodePointsIsReadable() {
        Message hostile = Message.of(Message.Type.ERROR, -1, 0, Tensor.ofInts(Kind.CONTROL, new int[]{'o', -7, 'k', 0x7FFFFFFF}));
        Message back = FrameCodec.decode(FrameCodec.encode(hostile), CLIENT_END);
        assertEquals("o\uFFFDk\uFFFD", FrameChannel.errorText(back));
    }

    @Test
    void strictCapsFollowFromTheShapes() {
        // Two tensors of the largest allowed shape (a batch of activations) and their headers.
        long largest = 3 + 4 * 4 + 4L * BATCH * CUT[0] * CUT[1] * CUT[2];
        assertEquals(FrameCodec.HEADER_BYTES + 2 * largest, SERVER_END.maxFrameBytes());
        Map<Kind, List<Shape>> none = new EnumMap<>(Kind.class);
        assertEquals(FrameCodec.HEADER_BYTES, FrameLimits.of(none).maxFrameBytes());
    }
}
