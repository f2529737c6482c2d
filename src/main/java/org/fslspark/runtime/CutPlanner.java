package org.fslspark.runtime;

import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.Algorithms;
import org.fslspark.config.Experiment;
import org.fslspark.model.Layer;
import org.fslspark.model.ModelSpec;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.Network;
import org.fslspark.testbed.Topology;
import org.fslspark.transport.Codec;
import org.fslspark.transport.Direction;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.fslspark.transport.TrafficMeter;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Chooses a cut per site by the time model ({@link TimeModel}, docs/CUTS.md): for every cut of the model, the round
 * the site would run at that cut is put to the time model as the reports its tasks would make: the messages and wire
 * bytes its link would carry (activations and gradients at the cut, in the experiment's codecs; the client part going
 * down and up) and the compute seconds of its layers and of the server's, counted from the layers' multiply-adds (a
 * training step is 6 FLOPs a multiply-add: forward, input gradient, weight gradient) at a given FLOP rate for
 * relative speed 1.0, which the time model divides by the site's speed. Each site's best cut is the one with the
 * least modelled round time for that site (the shallowest of equals). FSL-SAGE's alignment stage is not modelled;
 * the auxiliary head counts as trained by the client and downloaded every round.
 */
public final class CutPlanner {
    /** FLOPs of a training step per forward multiply-add (PERFORMANCE.md's count). */
    static final int FLOPS_PER_MAC = 6;

    private CutPlanner() {
    }

    /**
     * A site's round at one cut.
     *
     * @param cut            in the model's cut units (model.cut)
     * @param cutShape       per-sample shape of the activations at the cut
     * @param activations    values per sample at the cut
     * @param clientParams   parameters of the client part
     * @param traffic        what the site's link carries in the round, as a run's {@link TrafficMeter} books it
     * @param seconds        the site's modelled round time
     */
    public record Option(int cut, long[] cutShape, long activations, long clientParams, List<TrafficMeter.Count> traffic,
                         double seconds) {
    }

    /** A site: its samples, the round at each cut, at the experiment's cut and at its best. */
    public record SitePlan(String institute, long samples, List<Option> options, Option uniform, Option best) {
    }

    /**
     * @param uniformRoundSeconds the modelled round with every site at the experiment's cut
     * @param plannedRoundSeconds the modelled round with every site at its best cut
     */
    public record Plan(String algorithm, Algorithm.Flow flow, List<SitePlan> sites, double uniformRoundSeconds,
                       double plannedRoundSeconds) {
        /** Each site's best cut, as model.cut's map takes it. */
        public Map<String, Integer> cuts() {
            Map<String, Integer> out = new LinkedHashMap<>();
            sites.forEach(s -> out.put(s.institute(), s.best().cut()));
            return out;
        }
    }

    /**
     * The plan for {@code e} on its test-bed, each institute holding {@code samples[i]} training samples and a site of
     * relative speed 1.0 training at {@code gflops} GFLOP/s.
     */
    public static Plan plan(Experiment e, long[] samples, double gflops) {
        Topology topology = e.testbed().topology();
        if (topology == null) {
            throw new IllegalArgumentException("planning cuts needs a test-bed topology (testbed.topology)");
        }
        if (e.init().lora().enabled()) {
            throw new IllegalArgumentException("planning cuts counts whole layers' parameters; under LoRA (model.lora.rank > 0) "
                    + "only the adapters travel, which it does not model");
        }
        if (!(gflops > 0)) {
            throw new IllegalArgumentException("the FLOP rate must be > 0 GFLOP/s, got " + gflops);
        }
        Algorithm algorithm = Algorithms.byName(e.algorithm(), e.settings());
        boolean turns = TimeModel.clientsTakeTurns(algorithm, e.train().serverOrder());
        List<Integer> cuts = cutsOf(e.model());
        List<SitePlan> sites = new ArrayList<>();
        List<TaskReport> uniform = new ArrayList<>();
        List<TaskReport> planned = new ArrayList<>();
        double uniformServer = 0;
        double plannedServer = 0;
        for (int i = 0; i < e.institutes().size(); i++) {
            List<Option> options = new ArrayList<>();
            Option best = null;
            Option atUniform = null;
            Round bestRound = null;
            Round uniformRound = null;
            for (int cut : cuts) {
                Round r = round(e, algorithm, i, samples[i], e.model().withCut(cut), gflops);
                double seconds = TimeModel.roundSeconds(algorithm.flow(), turns, topology, e.serverSite(),
                        List.of(r.client(), r.server()), 0);
                Option o = new Option(cut, r.cutShape(), Arrays.stream(r.cutShape()).reduce(1, (a, b) -> a * b),
                        r.clientParams(), r.client().traffic(), seconds);
                options.add(o);
                if (best == null || seconds < best.seconds()) {
                    best = o;
                    bestRound = r;
                }
                if (ModelZoo.cut(e.modelOf(i)) == ModelZoo.cut(e.model().withCut(cut))) {
                    atUniform = o;
                    uniformRound = r;
                }
            }
            sites.add(new SitePlan(e.institutes().get(i), samples[i], options, atUniform, best));
            uniform.add(uniformRound.client());
            planned.add(bestRound.client());
            uniformServer += uniformRound.server().computeSeconds();
            plannedServer += bestRound.server().computeSeconds();
        }
        uniform.add(server(e, uniformServer));
        planned.add(server(e, plannedServer));
        return new Plan(e.algorithm(), algorithm.flow(), sites,
                TimeModel.roundSeconds(algorithm.flow(), turns, topology, e.serverSite(), uniform, 0),
                TimeModel.roundSeconds(algorithm.flow(), turns, topology, e.serverSite(), planned, 0));
    }

    /** Every cut the model takes, in its cut units, ascending. */
    public static List<Integer> cutsOf(ModelSpec spec) {
        List<Integer> out = new ArrayList<>();
        for (int cut = 1; ; cut++) {
            try {
                ModelZoo.cut(spec.withCut(cut));
            } catch (IllegalArgumentException beyond) {
                return out;
            }
            out.add(cut);
        }
    }

    /** The reports a site's round at one cut would give: its client task's and the server's work on its batches. */
    private record Round(TaskReport client, TaskReport server, long[] cutShape, long clientParams) {
    }

    private static TaskReport server(Experiment e, double computeSeconds) {
        return new TaskReport("server", -1, e.serverSite(), "", "", 0, List.of(), computeSeconds, computeSeconds, Map.of(), Map.of());
    }

    private static Round round(Experiment e, Algorithm algorithm, int client, long samples, ModelSpec spec, double gflops) {
        List<Layer> layers = ModelZoo.layers(spec);
        int cut = ModelZoo.cut(spec);
        long[] shape = spec.inputShape();
        long[] cutShape = null;
        long clientMacs = 0;
        long serverMacs = 0;
        long clientParams = 0;
        long allParams = 0;
        for (int l = 0; l < layers.size(); l++) {
            if (l == cut) {
                cutShape = shape;
            }
            long macs = layers.get(l).macsPerSample(shape);
            if (l < cut) {
                clientMacs += macs;
                clientParams += layers.get(l).numParams();
            } else {
                serverMacs += macs;
            }
            allParams += layers.get(l).numParams();
            shape = layers.get(l).outputShape(shape);
        }
        long targets = Arrays.stream(shape, 0, shape.length - 1).reduce(1, (a, b) -> a * b); // [classes] or [t, vocab]
        int b = e.train().batchSize();
        // The sizes of the round's minibatches, local iteration k = 0, 1, ... across the local epochs.
        List<Long> batches = new ArrayList<>();
        for (int epoch = 0; epoch < e.train().localEpochs(); epoch++) {
            for (long start = 0; start < samples; start += b) {
                batches.add(Math.min(b, samples - start));
            }
        }
        long trained = samples * e.train().localEpochs();
        double rate = gflops * 1e9;
        Traffic t = new Traffic(e.codecs());
        double clientSeconds;
        double serverSeconds;
        switch (algorithm.flow()) {
            case PER_BATCH -> {
                t.add(Direction.UP); // HELLO
                t.model(Direction.DOWN, clientParams);
                for (long s : batches) {
                    t.smashed(s, cutShape, targets);
                    t.add(Direction.DOWN, new Sent(batchOf(s, cutShape), Kind.GRADIENTS));
                }
                t.model(Direction.UP, clientParams);
                clientSeconds = FLOPS_PER_MAC * (double) clientMacs * trained / rate;
                serverSeconds = FLOPS_PER_MAC * (double) serverMacs * trained / rate;
            }
            case ONE_WAY -> {
                Network aux = ModelZoo.auxiliary(spec, e.settings().auxiliary(), e.settings().auxiliaryHidden(), 0);
                t.model(Direction.DOWN, clientParams);
                t.add(Direction.DOWN, new Sent(new long[]{1, aux.numParams()}, Kind.AUXILIARY_MODEL));
                long uploaded = 0;
                for (int k = 0; k < batches.size(); k++) {
                    if (k % e.settings().serverInterval() == 0) {
                        t.smashed(batches.get(k), cutShape, targets);
                        uploaded += batches.get(k);
                    }
                }
                if (algorithm.averaged().contains(Algorithm.Part.AUXILIARY)) {
                    t.add(Direction.UP, new Sent(new long[]{1, clientParams}, Kind.MODEL),
                            new Sent(new long[]{1, aux.numParams()}, Kind.AUXILIARY_MODEL));
                } else {
                    t.model(Direction.UP, clientParams);
                }
                clientSeconds = FLOPS_PER_MAC * (double) (clientMacs + aux.macsPerSample()) * trained / rate;
                serverSeconds = FLOPS_PER_MAC * (double) serverMacs * uploaded / rate;
            }
            case LOCAL -> {
                for (Direction d : Direction.values()) {
                    t.add(d, new Sent(new long[]{1, clientParams}, Kind.MODEL), new Sent(new long[]{1, allParams - clientParams}, Kind.MODEL));
                }
                clientSeconds = FLOPS_PER_MAC * (double) (clientMacs + serverMacs) * trained / rate;
                serverSeconds = 0;
            }
            default -> throw new IllegalStateException(algorithm.flow().toString());
        }
        TaskReport c = new TaskReport("client", client, e.institutes().get(client), "", "", samples, t.counts(), clientSeconds,
                clientSeconds, Map.of(), Map.of());
        return new Round(c, server(e, serverSeconds), cutShape, clientParams);
    }

    private static long[] batchOf(long samples, long[] perSample) {
        long[] s = new long[perSample.length + 1];
        s[0] = samples;
        System.arraycopy(perSample, 0, s, 1, perSample.length);
        return s;
    }

    /** A tensor of a message: its shape and kind. */
    private record Sent(long[] shape, Kind kind) {
    }

    /** What a link carries, counted as {@link TrafficMeter} books it: a message under its first tensor's kind. */
    private static final class Traffic {
        private final org.fslspark.transport.Codecs codecs;
        private final Map<Direction, Map<Kind, long[]>> counts = new EnumMap<>(Direction.class);

        Traffic(org.fslspark.transport.Codecs codecs) {
            this.codecs = codecs;
        }

        void model(Direction d, long params) {
            add(d, new Sent(new long[]{1, params}, Kind.MODEL));
        }

        /** A smashed batch: activations [s, cut] and s × targets labels (int32). */
        void smashed(long s, long[] cutShape, long targets) {
            add(Direction.UP, new Sent(batchOf(s, cutShape), Kind.ACTIVATIONS), new Sent(new long[]{s * targets}, Kind.LABELS));
        }

        /** A message of the given tensors (none: a control message such as HELLO). */
        void add(Direction d, Sent... tensors) {
            Map<Kind, long[]> byKind = counts.computeIfAbsent(d, k -> new EnumMap<>(Kind.class));
            long[] header = byKind.computeIfAbsent(tensors.length == 0 ? Kind.CONTROL : tensors[0].kind(), k -> new long[3]);
            header[1] += FrameCodec.HEADER_BYTES;
            header[2]++;
            for (Sent t : tensors) {
                Codec codec = codecs.of(t.kind());
                long payload = codec == null ? 4 * t.shape()[0] : codec.payloadBytes(t.shape()); // int32 labels
                long[] c = byKind.computeIfAbsent(t.kind(), k -> new long[3]);
                c[0] += payload;
                c[1] += 3 + 4L * t.shape().length + payload;
            }
        }

        List<TrafficMeter.Count> counts() {
            List<TrafficMeter.Count> out = new ArrayList<>();
            counts.forEach((d, byKind) -> byKind.forEach((k, c) -> out.add(new TrafficMeter.Count(d, k, c[0], c[1], c[2]))));
            return out;
        }
    }
}
