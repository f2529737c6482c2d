package org.fslspark.bench;

import org.fslspark.transport.Codec;
import org.fslspark.transport.Codecs;
import org.fslspark.transport.ErrorFeedback;
import org.fslspark.transport.Float32Codec;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.FrameLimits;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * Encode and decode throughput of each codec on one thread, on activation-sized tensors, through the
 * transport's own path (a smashed batch: the activations and b labels): a send is {@link Codecs#prepare} (top-k's error feedback included) and
 * {@link FrameCodec#encode}, a receipt {@link FrameCodec#decode} under strict limits (every check and the
 * finiteness of the values). GB/s counts the tensor's float32 bytes (4 per value) per second, so the
 * codecs compare on the work they do for the same tensor. Prints figures, asserts nothing.
 */
@Command(name = "codecs", mixinStandardHelpOptions = true,
        description = "Encode and decode GB/s per core of each transport codec on cut-sized tensors (docs/PERFORMANCE.md).")
public final class CodecBenchmark implements Callable<Integer> {
    @Option(names = "--shape", split = ",", description = "Tensor shape (default: ${DEFAULT-VALUE}, fmnist_cnn's cut at b = 64; "
            + "resnet18's is 64,128,16,16).")
    long[] shape = {64, 64, 7, 7};
    @Option(names = "--codecs", split = ",", description = "Codecs (default: ${DEFAULT-VALUE}).")
    List<String> codecs = List.of("float32", "float16", "bfloat16", "int8", "topk:0.1", "topk:0.01");
    @Option(names = "--seconds", description = "Seconds measured per codec and direction, after as long a warm-up "
            + "(default: ${DEFAULT-VALUE}).")
    double seconds = 2;
    @Option(names = "--seed", description = "Seed of the Gaussian values (default: ${DEFAULT-VALUE}).")
    long seed = 1;

    @Override
    public Integer call() {
        int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        float[] values = new float[n];
        Random rng = new Random(seed);
        for (int i = 0; i < n; i++) {
            values[i] = (float) rng.nextGaussian();
        }
        long[] perSample = Arrays.copyOfRange(shape, 1, shape.length);
        FrameLimits limits = FrameLimits.of(Map.of(Kind.ACTIVATIONS, List.of(FrameLimits.Shape.batchOf(shape[0], perSample)),
                Kind.LABELS, List.of(FrameLimits.Shape.upTo(shape[0]))));
        Tensor labels = Tensor.ofInts(Kind.LABELS, new int[(int) shape[0]]);
        System.out.printf(Locale.ROOT, "tensor %s: %d values, %.2f MB in float32; one thread; %s, %d cores%n",
                Arrays.toString(shape), n, 4e-6 * n, System.getProperty("java.vm.name") + " " + Runtime.version(),
                Runtime.getRuntime().availableProcessors());
        System.out.printf(Locale.ROOT, "GB/s of float32 values per second of the thread's CPU time (per core) and, in brackets, of wall time%n");
        System.out.printf(Locale.ROOT, "%-11s %10s %6s %18s %18s%n", "codec", "payload B", "ratio", "encode GB/s", "decode GB/s");
        for (String name : codecs) {
            Codec codec = Codec.parse(name);
            Codecs sent = new Codecs(codec, codec, Float32Codec.INSTANCE);
            ErrorFeedback feedback = new ErrorFeedback();
            Message m = Message.of(Message.Type.SMASHED, 0, 0, new Tensor(Kind.ACTIVATIONS, shape, values, null), labels);
            byte[] frame = FrameCodec.encode(sent.prepare(m, feedback));
            double[] encode = rate(n, () -> FrameCodec.encode(sent.prepare(m, feedback)).length);
            double[] decode = rate(n, () -> FrameCodec.decode(frame, limits).tensor(0).floats().length);
            long payload = codec.payloadBytes(shape);
            System.out.printf(Locale.ROOT, "%-11s %10d %6.2f %8.2f (%6.2f) %8.2f (%6.2f)%n", name, payload, 4.0 * n / payload,
                    encode[0], encode[1], decode[0], decode[1]);
        }
        return 0;
    }

    /**
     * GB of float32 values per second of {@code work} on {@code n} values, per second of this thread's CPU
     * time and of wall time (they differ when other processes share the cores): a warm-up, then as many
     * calls as fit in the measured CPU seconds.
     */
    private double[] rate(int n, java.util.function.IntSupplier work) {
        java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        long sink = 0;
        for (long end = cpu.getCurrentThreadCpuTime() + (long) (seconds * 1e9); cpu.getCurrentThreadCpuTime() < end; ) {
            sink += work.getAsInt();
        }
        long calls = 0;
        long wall = System.nanoTime();
        long start = cpu.getCurrentThreadCpuTime();
        while (cpu.getCurrentThreadCpuTime() - start < seconds * 1e9) {
            sink += work.getAsInt();
            calls++;
        }
        double cpuSeconds = (cpu.getCurrentThreadCpuTime() - start) / 1e9;
        double wallSeconds = (System.nanoTime() - wall) / 1e9;
        if (sink == 42) {
            System.out.print(""); // keeps the results alive
        }
        return new double[]{4.0 * n * calls / cpuSeconds / 1e9, 4.0 * n * calls / wallSeconds / 1e9};
    }
}
