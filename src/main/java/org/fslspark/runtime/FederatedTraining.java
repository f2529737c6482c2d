package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.AlignmentReport;
import org.fslspark.algorithm.Algorithms;
import org.fslspark.config.ConfigException;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.data.PartitionStore;
import org.fslspark.metrics.AlignmentRecord;
import org.fslspark.metrics.EventRecord;
import org.fslspark.metrics.Plots;
import org.fslspark.metrics.ResultsWriter;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.metrics.TrafficRecord;
import org.fslspark.model.Checkpoint;
import org.fslspark.model.CutLayout;
import org.fslspark.model.SplitModel;
import org.fslspark.text.Tokenizers;
import org.fslspark.transport.Direction;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.NonFiniteValueException;
import org.fslspark.transport.TransportException;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;
import org.fslspark.transport.TrafficMeter;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The driver's loop over rounds: ship the global model, run the round's Spark stage(s), average
 * what the algorithm averages, evaluate, record, and stop at T rounds, a traffic budget or a target
 * accuracy. The driver never opens an institute's training data; it only checks that it exists.
 */
public final class FederatedTraining {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(FederatedTraining.class);

    private FederatedTraining() {
    }

    /**
     * How a run ended, the final global model (x_c, x_s as flat vectors; under LoRA the adapters), and every task that ran
     * (what it reported about itself: where it ran, how long, its traffic; without the models), and the driver's seconds
     * writing round checkpoints.
     */
    public record Summary(List<RoundRecord> rounds, String stopReason, Path output, INDArray clientParams,
                          INDArray serverParams, List<TaskRun> tasks, double checkpointSeconds) {
        public RoundRecord last() {
            return rounds.get(rounds.size() - 1);
        }
    }

    /** A task of round {@code round} and its report; alignment tasks have the role "aligner". */
    public record TaskRun(int round, TaskReport report) {
    }

    /** How a run treats its output location. */
    public enum Start {
        /** A new run; an existing location is refused. */
        NEW,
        /** A new run; an existing location is replaced. */
        OVERWRITE,
        /** Continues the run in the location from its newest complete round checkpoint. */
        RESUME
    }

    /** Runs the experiment from round 0; {@code overwrite} replaces an existing output location. */
    public static Summary run(Experiment e, SparkSession spark, boolean overwrite, Consumer<RoundRecord> onRound) {
        return run(e, spark, overwrite ? Start.OVERWRITE : Start.NEW, onRound);
    }

    /**
     * Runs the experiment, or resumes it ({@link Start#RESUME}: the saved config must match but for
     * train.rounds, stop.*, spark.* and checkpoint.*; results of rounds after the saved state are dropped).
     * Inputs are checked (every institute's partition and the test set are prepared) before anything is
     * written to the output location.
     */
    public static Summary run(Experiment e, SparkSession spark, Start start, Consumer<RoundRecord> onRound) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Sparks.shareLocalCores(sc.master(), e.institutes().size() + 1);
        Map<String, String> hadoop = hadoopProps(spark);
        Configuration conf = SiteData.hadoopConf(hadoop);
        List<String> locations = new ArrayList<>();
        for (String institute : e.institutes()) {
            String location = e.data().locationOf(institute);
            SiteData.requirePrepared(conf, location, institute, e);
            locations.add(location);
        }
        // On a cluster with a test-bed, every site must have a live executor before anything is written.
        TestbedPlan testbed = testbedPlan(e, sc.master());
        List<String> sites = SiteExecutors.sitesOf(e.institutes(), e.serverSite());
        SiteExecutors executors = testbed.placeBySite()
                ? SiteExecutors.discover(sc, testbed.topology(), sites, e.testbed().executorWaitSeconds()) : SiteExecutors.NONE;
        SiteData.requirePrepared(conf, e.data().testLocation(), PartitionStore.TEST, e);
        String tokenizer = e.data().isText() ? Checkpoint.tokenizerOf(Tokenizers.named(e.data().tokenizer())) : null;
        requireMatchingCheckpoint(e, conf, tokenizer);
        Configuration outConf = spark.sparkContext().hadoopConfiguration();
        RoundCheckpoints checkpoints = new RoundCheckpoints(e.output(), outConf, e.checkpoint());
        ResultsWriter out;
        TrainingState state;
        if (start == Start.RESUME) {
            ExperimentLoader.requireResumable(ResultsWriter.read(e.output(), outConf, "config"), e.resolvedConfig());
            state = checkpoints.latest(System.out::println);
            out = ResultsWriter.resume(e.output(), outConf, e.resolvedConfig(), state.round());
        } else {
            SplitModel initial = e.init().initial(e.model(), e.seed(), conf);
            out = new ResultsWriter(e.output(), outConf, e.resolvedConfig(), start == Start.OVERWRITE);
            state = TrainingState.initial(initial.client().params().dup(), initial.server().params().dup());
            if (!e.trace().isEmpty()) {
                Trace.start(e, conf, initial);
            }
        }
        Rounds rounds = new Rounds(e, sc, locations, hadoop, testbed, executors, conf, state.executors(), out, checkpoints);
        String stopReason = "completed " + e.train().rounds() + " rounds";
        long checkpointNanos = 0;
        try {
            while (state.round() < e.train().rounds()) {
                int t = state.round();
                if (e.security().warnPlain()) {
                    LOG.warn("round {}: security.require-tls = false: the links between sites are plain TCP; anyone on the path "
                            + "can read the activations, labels, gradients and models, and anyone who reaches the server's port can "
                            + "join (docs/SECURITY.md)", t);
                }
                boolean checkpoint = checkpoints.due(t, e.train().rounds());
                // A failed round is rerun from the executors' state at its start: with retries on, every round returns it.
                Round r = rounds.next(state, checkpoint || e.fault().roundAttempts() > 1, checkpoint);
                state = r.state();
                if (!r.alignments().isEmpty()) {
                    out.appendAlignment(r.alignments());
                }
                out.append(r.row(), r.traffic());
                if (checkpoint) {
                    long writing = System.nanoTime();
                    state = checkpoints.write(state);
                    checkpointNanos += System.nanoTime() - writing;
                }
                onRound.accept(r.row());
                if (e.stop().targetAccuracy() > 0 && r.row().testAccuracy() >= e.stop().targetAccuracy()) {
                    stopReason = "reached target accuracy " + e.stop().targetAccuracy() + " in round " + t;
                    break;
                }
                if (e.stop().trafficBudgetBytes() > 0 && state.cumulativePayloadBytes() >= e.stop().trafficBudgetBytes()) {
                    stopReason = "traffic budget of " + e.stop().trafficBudgetBytes() + " bytes used up in round " + t;
                    break;
                }
            }
        } finally {
            rounds.close();
            TaskState.clear(rounds.runId);
        }
        out.finish(spark);
        writePlots(out, e.name());
        writeCheckpoint(e, conf, tokenizer, out, state.client(), state.server(), stopReason);
        return new Summary(out.rounds(), stopReason, out.location(), state.client(), state.server(), List.copyOf(rounds.tasks),
                checkpointNanos / 1e9);
    }

    /** Whether the experiment's output location holds a complete round checkpoint that {@link Start#RESUME} continues from. */
    public static boolean resumable(Experiment e, Configuration conf) {
        return new RoundCheckpoints(e.output(), conf, e.checkpoint()).hasComplete();
    }

    /** One round's outcome: the state it leads to and what it records. */
    record Round(TrainingState state, RoundRecord row, List<TrafficRecord> traffic, List<AlignmentRecord> alignments) {
    }

    /** The round function of a run: everything fixed for the run, and {@link #next} from one state to the next. */
    private static final class Rounds {
        final String runId = UUID.randomUUID().toString();
        final List<TaskRun> tasks = new ArrayList<>();
        private final Experiment e;
        private final JavaSparkContext sc;
        private final List<String> locations;
        private final Map<String, String> hadoop;
        private final TestbedPlan testbed;
        private final Evaluator evaluator;
        /** Where each institute's part of the model ends (docs/CUTS.md). */
        private final CutLayout layout;
        private final ResultsWriter out;
        private final RoundCheckpoints checkpoints;
        /** Whether a round that ends with a checkpoint has its executors write their parts of it ({@link HeldCopy#keep}). */
        private final boolean executorsWrite;
        private SiteExecutors executors;
        /** What the executors must rebuild in the run's first round (a resumed state's) or in a rerun; nothing after. */
        private Map<String, HeldCopy> restore;
        /** The executors' copy of the training state in use; a rerun starts a new one ({@link TaskState}). */
        private long generation;
        /** The newest version of every entry the executors hold, as their reports said ({@link TaskState#held}). */
        private final Map<String, String> versions = new HashMap<>();
        private final Participants participants;
        /** The attempt's participants, and the saved state its plan carries for them. */
        private List<Integer> clients;
        private Map<String, HeldCopy> carried;
        /** Clients dropped from the last round for a refused frame: their executors hold state the driver discarded. */
        private final Set<Integer> discarded = new TreeSet<>();
        /**
         * Whether every round so far returned the executors' state, so that the driver's copy holds every entry that
         * exists: an entry missing from it did not exist yet.
         */
        private boolean copyComplete = true;
        /** Fails an attempt whose pinned executor is lost, or that runs past its deadline, rather than let it wait. */
        private final AttemptWatch watch;
        /** The longest a round has taken so far (seconds, alignment included), for fault.round-timeout = auto. */
        private double slowestRound;

        Rounds(Experiment e, JavaSparkContext sc, List<String> locations, Map<String, String> hadoop, TestbedPlan testbed,
               SiteExecutors executors, Configuration conf, Map<String, HeldCopy> restore, ResultsWriter out,
               RoundCheckpoints checkpoints) {
            this.out = out;
            this.checkpoints = checkpoints;
            this.executorsWrite = checkpoints.executorsWrite(sc.sc());
            this.e = e;
            this.sc = sc;
            this.locations = locations;
            this.hadoop = hadoop;
            this.testbed = testbed;
            this.executors = executors;
            this.restore = restore;
            this.participants = new Participants(e, sc);
            this.watch = AttemptWatch.on(sc.sc());
            restore.keySet().forEach(k -> versions.put(HeldState.entryOf(k), "the state this run resumed from"));
            SplitModel model = e.init().split(e.model(), e.seed(), conf);
            this.layout = Aggregation.layout(e, model);
            this.evaluator = new Evaluator(SiteData.readTest(conf, e.data().testLocation()), model, e.train().evalBatchSize());
        }

        /**
         * Runs round {@code s.round()}, rerunning it from {@code s} when it fails, up to fault.round-attempts times.
         * A rerun starts a new generation of the executors' state, rebuilt from {@code s.executors()} (every round
         * returns it when retries are on), so nothing a failed attempt stepped survives and no update of it is
         * averaged. A divergence is not retried.
         */
        Round next(TrainingState s, boolean collect, boolean checkpoint) {
            int t = s.round();
            if (checkpoint) {
                checkpoints.begin(t);
            }
            for (int attempt = 0; ; attempt++) {
                try {
                    return attempt(s, collect, attempt, checkpoint && executorsWrite ? checkpoints.partsDir(t, attempt) : "");
                } catch (Exception failure) { // Spark's SparkException is checked but undeclared
                    Divergence diverged = Divergence.in(failure);
                    String lost = watch.disarm();
                    String reason = diverged != null ? diverged.getMessage() : lost != null ? lost + ": " + reason(failure)
                            : reason(failure);
                    String where = institute(diverged != null ? reason : lost != null ? lost : messages(failure));
                    if (diverged != null) {
                        out.appendEvent(new EventRecord(t, where, "diverged", reason));
                        throw diverged;
                    }
                    // A placement violation or a config error fails every attempt alike; a stopped SparkContext (what a
                    // task's OutOfMemoryError does in local mode) fails them with its own message, hiding this cause.
                    boolean stopped = sc.sc().isStopped();
                    boolean last = attempt + 1 >= e.fault().roundAttempts() || messages(failure).contains("placement violation")
                            || causedBy(failure, ConfigException.class) || stopped;
                    if (stopped) {
                        reason = "the SparkContext stopped: " + reason;
                    }
                    out.appendEvent(new EventRecord(t, where, last ? "failed" : "retried", reason));
                    if (last) {
                        throw new RoundFailed("round " + t + " failed in " + (attempt + 1) + " attempt(s) (fault.round-attempts = "
                                + e.fault().roundAttempts() + "); the newest round checkpoint is resumable (train --resume): "
                                + reason, failure);
                    }
                    generation++;
                    restore = s.executors();
                }
            }
        }

        /**
         * Where a failure's text says it happened: an institute, the server site, or "" when it names neither. A client
         * that the failed server told why ("server failed: ...") points at what the server named.
         */
        private String institute(String text) {
            int told = text.indexOf("server failed: ");
            String reason = told < 0 ? text : text.substring(told + "server failed: ".length());
            for (String i : e.institutes()) {
                if (reason.contains("institute " + i + " ")) {
                    return i;
                }
            }
            return reason.contains("server site " + e.serverSite()) ? e.serverSite() : "";
        }

        /** What the Spark UI shows for the jobs that follow, e.g. "round 3 · fsl-sage · alignment" (a group per round). */
        private void describe(int t, int attempt, String what) {
            sc.setJobGroup(jobGroup(t), "round " + t + " · " + e.algorithm() + " · " + what
                    + (attempt > 0 ? " · attempt " + (attempt + 1) : ""), false);
        }

        /** An attempt's deadline in seconds (fault.round-timeout), 0 = none: auto has none before a round has finished. */
        private double deadline() {
            double set = e.fault().roundTimeoutSeconds();
            return set != Experiment.Faults.AUTO ? set : slowestRound > 0 ? Math.max(600, 10 * slowestRound) : 0;
        }

        private String jobGroup(int t) {
            return "fsl-" + runId + "-round-" + t;
        }

        void close() {
            watch.close();
        }

        /** One attempt at round {@code s.round()}; {@link #next} with no retry. */
        private Round attempt(TrainingState s, boolean collect, int attempt, String stateFiles) {
            int t = s.round();
            List<TaskRun> attemptTasks = new ArrayList<>();
            // FSL-SAGE's warm start: round 0 follows CSE-FSL's rules.
            String rules = t == 0 && e.settings().warmStart() && e.algorithm().equals("fsl-sage") ? "cse-fsl" : e.algorithm();
            Algorithm algorithm = Algorithms.byName(rules, e.settings());
            Map<Integer, byte[]> downloads = new HashMap<>();
            if (s.auxiliary() != null) {
                // The averaged head of each client's cut (one head for all unless sites cut at different layers).
                Map<Integer, byte[]> frames = new HashMap<>();
                for (int i = 0; i < e.institutes().size(); i++) {
                    int client = i;
                    downloads.put(i, frames.computeIfAbsent(layout.cut(i), cut -> FrameCodec.encode(e.codecs().prepare(
                            Message.of(Message.Type.MODEL, -1, t, Tensor.of(Kind.AUXILIARY_MODEL,
                                    Aggregation.head(e, layout, s.auxiliary(), client))), null))));
                }
            }
            participate(t, s);
            watch.arm(jobGroup(t), executors, clients.stream().map(e.institutes()::get).toList(), e.serverSite(), deadline());
            RoundPlan plan = plan(t, rules, s, downloads, collect, attempt, stateFiles);
            long start = System.nanoTime();
            List<AlignmentRecord> alignments = new ArrayList<>();
            Map<Integer, INDArray> alignedHeads = new TreeMap<>();
            double alignmentSeconds = 0;
            List<AlignmentRound.Result> aligned = List.of();
            if (algorithm.alignsAt(t, s.alignedBefore())) {
                describe(t, attempt, "alignment");
                aligned = AlignmentRound.run(sc, plan, executors);
                alignmentSeconds = AlignmentRound.stageSeconds(aligned);
                for (AlignmentRound.Result r : aligned) {
                    attemptTasks.add(new TaskRun(t, new TaskReport("aligner", r.client(), e.serverSite(), r.executorSite(),
                            r.host(), 0, List.of(), r.seconds(), r.seconds(), Map.of(), Map.of())));
                    if (r.report() != null) {
                        downloads.put(r.client(), r.auxiliaryFrame());
                        alignedHeads.put(r.client(), FrameCodec.decode(r.auxiliaryFrame()).tensor(0).toArray());
                        alignments.add(alignmentRecord(e, t, r));
                    }
                }
                plan = plan(t, rules, s, downloads, collect, attempt, stateFiles);
            }
            describe(t, attempt, switch (algorithm.flow()) {
                case LOCAL -> "clients";
                case PER_BATCH -> "clients and server";
                case ONE_WAY -> "clients, then server";
            });
            List<TaskReport> reports = switch (algorithm.flow()) {
                case LOCAL -> LocalRound.run(sc, plan, executors);
                case PER_BATCH -> SyncRound.run(sc, plan, executors);
                case ONE_WAY -> OneWayRound.run(sc, plan, executors);
            };
            watch.disarm();
            restore = Map.of();
            double seconds = (System.nanoTime() - start) / 1e9;
            slowestRound = Math.max(slowestRound, seconds);
            for (TaskReport r : reports) {
                attemptTasks.add(new TaskRun(t, r.withoutBytes()));
            }
            // A client the per-batch server dropped for a refused frame leaves the round: nothing of it is averaged.
            Map<Integer, String> refused = new TreeMap<>();
            reports.forEach(r -> refused.putAll(r.refused()));
            List<Integer> took = plan.participants().stream().filter(i -> !refused.containsKey(i)).toList();
            if (took.isEmpty()) {
                throw new IllegalStateException("round " + t + ": the server refused a frame of every participant: " + refused);
            }
            // A refused client's alignment of this round is discarded with the rest of its part (held, below).
            boolean alignedBefore = s.alignedBefore()
                    || aligned.stream().anyMatch(r -> r.report() != null && !refused.containsKey(r.client()));
            INDArray[] next;
            try {
                next = Aggregation.aggregate(algorithm, e, layout, took, reports, s.client(), s.server(), s.auxiliary());
            } catch (TransportException ex) {
                NonFiniteValueException nf = Divergence.nonFinite(ex);
                if (nf != null) {
                    throw new Divergence(Divergence.MARKER + t + ", " + ex.getMessage(), nf);
                }
                throw ex;
            }
            if (!e.trace().isEmpty()) {
                Trace.round(e.trace(), SiteData.hadoopConf(hadoop), t, next[0], next[1], next[2], alignedHeads);
            }
            Evaluator.Result eval = evaluator.evaluate(next[0], next[1]);

            List<TrafficRecord> traffic = trafficRecords(e, t, reports);
            long payloadUp = payload(traffic, Direction.UP);
            long payloadDown = payload(traffic, Direction.DOWN);
            long labels = traffic.stream().filter(r -> r.kind().equals(Kind.LABELS.column()))
                    .mapToLong(TrafficRecord::payloadBytes).sum();
            long wireUp = traffic.stream().filter(r -> r.direction().equals("up")).mapToLong(TrafficRecord::wireBytes).sum();
            long wireDown = traffic.stream().filter(r -> r.direction().equals("down")).mapToLong(TrafficRecord::wireBytes).sum();
            double modelled = TimeModel.roundSeconds(algorithm.flow(),
                    TimeModel.clientsTakeTurns(algorithm, e.train().serverOrder()), e.testbed().topology(),
                    e.serverSite(), reports, alignmentSeconds);
            Map<String, String> used = new HashMap<>();
            Map<String, HeldCopy> held = held(s, collect, reports, aligned, refused.keySet(), used);
            TrainingState after = new TrainingState(t + 1, next[0], next[1], next[2], alignedBefore,
                    s.cumulativePayloadBytes() + payloadUp + payloadDown, s.cumulativeWireBytes() + wireUp + wireDown,
                    s.cumulativeSeconds() + seconds, s.cumulativeModelledSeconds() + modelled, Map.copyOf(held));
            RoundRecord row = new RoundRecord(e.name(), e.algorithm(), t, eval.accuracy(), eval.loss(), payloadUp,
                    payloadDown, labels, wireUp, wireDown, after.cumulativePayloadBytes(), after.cumulativeWireBytes(),
                    seconds, after.cumulativeSeconds(), Math.exp(eval.loss()), modelled, after.cumulativeModelledSeconds(),
                    took.stream().map(e.institutes()::get).collect(Collectors.joining(";")));
            tasks.addAll(attemptTasks);
            List<TrafficRecord> recorded = new ArrayList<>(traffic);
            recorded.addAll(retryRecords(e, t, reports));
            versions.putAll(used);
            discarded.addAll(refused.keySet());
            copyComplete &= collect;
            refused.forEach((i, why) -> out.appendEvent(new EventRecord(t, e.institutes().get(i), "refused-frame", why)));
            return new Round(after, row, recorded, alignments);
        }

        /**
         * The driver's copy of what the executors hold after the round (empty when the tasks did not return it), and
         * into {@code used} the new versions of the entries the round used. An entry's newest copy is the one its user
         * returned (an aligner's learner, whatever the server stage on another executor holds); entries nobody used
         * keep the copy of an earlier round, so the copy stays whole wherever each entry lives. What clients dropped for a
         * refused frame stepped, and the server site's alignment of their heads in the round, is discarded: those
         * entries ({@link #ownEntries}) keep their earlier copy and version.
         */
        private static Map<String, HeldCopy> held(TrainingState s, boolean collect, List<TaskReport> reports,
                                                List<AlignmentRound.Result> aligned, Set<Integer> refused,
                                                Map<String, String> used) {
            Set<String> dropped = new HashSet<>();
            refused.forEach(i -> dropped.addAll(ownEntries(i)));
            List<Map.Entry<Map<String, HeldCopy>, Map<String, String>>> returned = new ArrayList<>();
            reports.forEach(r -> returned.add(Map.entry(r.state(), r.versions())));
            aligned.forEach(r -> returned.add(Map.entry(r.state(), r.versions())));
            returned.forEach(r -> r.getValue().forEach((name, version) -> {
                if (!dropped.contains(name)) {
                    used.put(name, version);
                }
            }));
            Map<String, HeldCopy> held = collect ? new HashMap<>(s.executors()) : new HashMap<>();
            for (boolean newest : new boolean[]{false, true}) {
                for (Map.Entry<Map<String, HeldCopy>, Map<String, String>> r : returned) {
                    r.getKey().forEach((k, bytes) -> {
                        if (!dropped.contains(HeldState.entryOf(k)) && r.getValue().containsKey(HeldState.entryOf(k)) == newest) {
                            held.put(k, bytes);
                        }
                    });
                }
            }
            return held;
        }

        /**
         * Decides the attempt's participants ({@link Participants}) and records who left or came back. A rejoining
         * institute's executor is new, and one dropped last round for a refused frame holds what the driver discarded:
         * their plan carries the driver's copy of the client's state (optimizer, auxiliary head) from the last round it
         * counted in, or, without a copy, the client starts afresh rather than fail on it.
         */
        private void participate(int t, TrainingState s) {
            Participants.Round who = participants.next(t, executors, watch.removed());
            executors = who.executors();
            who.events().forEach(out::appendEvent);
            clients = who.clients();
            carried = restore;
            Set<Integer> stale = new TreeSet<>(who.rejoined());
            clients.stream().filter(discarded::contains).forEach(stale::add);
            discarded.clear();
            for (int i : stale) {
                Map<String, HeldCopy> copy = new HashMap<>(carried);
                for (String name : ownEntries(i)) {
                    s.executors().forEach((k, bytes) -> {
                        if (HeldState.entryOf(k).equals(name)) {
                            copy.put(k, bytes);
                        }
                    });
                    if (HeldState.covers(copy, name)) {
                        continue;
                    }
                    // No copy: the entry did not exist before (the executors' one is of the discarded round), or the
                    // driver never had one, and the executor's is all there is.
                    if (copyComplete) {
                        versions.put(name, TaskState.FRESH);
                    } else {
                        versions.remove(name);
                    }
                }
                carried = Map.copyOf(copy);
            }
        }

        /**
         * The entries of the training state that are client {@code i}'s part of a round: its learners, the residual of
         * its top-k activations, and the server site's alignment of its head (FSL-SAGE's aligners run before the round's
         * stage, so before a frame of it can be refused).
         */
        private static List<String> ownEntries(int i) {
            return List.of(ClientWork.name(i), "feedback/" + i, "server/auxiliary/" + i);
        }

        private RoundPlan plan(int t, String rules, TrainingState s, Map<Integer, byte[]> downloads, boolean collect, int attempt,
                               String stateFiles) {
            return new RoundPlan(runId, t, rules, e.settings(), e.model(), e.init(), e.train().optimizer(),
                    e.train().serverOptimizer(), e.train().batchSize(), e.train().localEpochs(), e.seed(), e.institutes(),
                    locations, e.serverSite(), e.train().serverOrder(), hadoop, s.client().data().asFloat(),
                    s.server().data().asFloat(), Map.copyOf(downloads), testbed, carried, collect, e.trace(), attempt, generation, Map.copyOf(versions), clients,
                    e.fault(), e.security().tls(), e.codecs(), e.cuts(), stateFiles);
        }
    }

    /** A checkpoint named by model.init must exist and hold this experiment's model and tokenizer. */
    private static void requireMatchingCheckpoint(Experiment e, Configuration conf, String tokenizer) {
        if (!e.init().fromCheckpoint()) {
            return;
        }
        String why;
        try {
            why = Checkpoint.read(e.init().checkpoint(), conf).mismatch(e.model(), tokenizer);
        } catch (IllegalArgumentException ex) {
            throw new ConfigException("model.init: " + ex.getMessage(), ex);
        }
        if (why != null) {
            throw new ConfigException("model.init = " + e.init().checkpoint() + ": " + why
                    + "; set model.* and data.tokenizer/data.context as in its " + Checkpoint.SPEC);
        }
    }

    /** The final global model as a checkpoint in {@code <output>/model}; LoRA adapters merged into the base. */
    private static void writeCheckpoint(Experiment e, Configuration conf, String tokenizer, ResultsWriter out,
                                        INDArray client, INDArray server, String stopReason) {
        Map<String, Object> origin = new LinkedHashMap<>();
        origin.put("experiment", e.name());
        origin.put("algorithm", e.algorithm());
        origin.put("rounds", out.rounds().size());
        origin.put("stopped", stopReason);
        if (e.init().fromCheckpoint()) {
            origin.put("init", e.init().checkpoint());
        }
        if (e.init().lora().enabled()) {
            origin.put("lora", "rank " + e.init().lora().rank() + ", alpha " + e.init().lora().alpha() + ", "
                    + e.init().lora().projections() + ", merged into the weights");
        }
        INDArray params = e.init().merged(e.model(), Nd4j.hstack(client, server), conf);
        Path dir = new Path(out.location(), "model");
        try {
            new Checkpoint(e.model(), tokenizer, params, origin).write(dir.toString(), conf);
        } catch (IOException ex) {
            throw new IllegalStateException("cannot write the model to " + dir + ": " + ex.getMessage(), ex);
        }
    }

    /** The test-bed rules of a run on the experiment's configured master. */
    static TestbedPlan testbedPlan(Experiment e) {
        return testbedPlan(e, e.spark().master());
    }

    /** Links are emulated when the test-bed asks for it; placement by site applies on a cluster, not in local mode. */
    static TestbedPlan testbedPlan(Experiment e, String master) {
        if (!e.testbed().enabled()) {
            return TestbedPlan.NONE;
        }
        return new TestbedPlan(e.testbed().topology(), e.testbed().emulatesLinks(), !Sparks.isLocal(master));
    }

    private static AlignmentRecord alignmentRecord(Experiment e, int t, AlignmentRound.Result r) {
        AlignmentReport a = r.report();
        return new AlignmentRecord(e.name(), e.algorithm(), t, e.institutes().get(r.client()), a.samples(),
                a.before().nmse(), a.before().cosine(), a.after().nmse(), a.after().cosine(), a.finalLoss(), r.seconds());
    }

    private static Map<String, String> hadoopProps(SparkSession spark) {
        Map<String, String> props = new HashMap<>();
        for (scala.Tuple2<String, String> kv : spark.sparkContext().getConf().getAll()) {
            if (kv._1().startsWith("spark.hadoop.")) {
                props.put(kv._1().substring("spark.hadoop.".length()), kv._2());
            }
        }
        return props;
    }

    private static List<TrafficRecord> trafficRecords(Experiment e, int round, List<TaskReport> reports) {
        List<TrafficRecord> rows = new ArrayList<>();
        for (TaskReport r : reports) {
            for (TrafficMeter.Count c : r.traffic()) {
                rows.add(new TrafficRecord(e.name(), e.algorithm(), round, r.institute(), c.direction().column(),
                        c.kind().column(), c.payloadBytes(), c.wireBytes(), c.messages(), e.codecs().column(c.kind())));
            }
        }
        return rows;
    }

    /**
     * Rows of kind "retry": per institute and direction, what its link carried in the round's failed attempts as
     * far as the executors kept the meters (summed over kinds); never part of the round's figures.
     */
    private static List<TrafficRecord> retryRecords(Experiment e, int round, List<TaskReport> reports) {
        List<TrafficRecord> rows = new ArrayList<>();
        for (TaskReport r : reports) {
            for (TrafficMeter.Count c : r.retried()) {
                rows.add(new TrafficRecord(e.name(), e.algorithm(), round, r.institute(), c.direction().column(), RETRY,
                        c.payloadBytes(), c.wireBytes(), c.messages(), "none"));
            }
        }
        return rows;
    }

    /** The traffic.csv kind of what failed attempts of a round sent. */
    public static final String RETRY = "retry";

    /**
     * A failure's message for events.csv: the first task exception Spark's report quotes (its first line, "Job
     * aborted ..." says only which task), else the innermost cause's first line.
     */
    private static String reason(Throwable failure) {
        java.util.regex.Matcher quoted = java.util.regex.Pattern.compile(
                "((?:[a-z]\\w*\\.)+[A-Z][\\w$]*(?:Exception|Error|Fault|Divergence)): (.+)").matcher(messages(failure));
        while (quoted.find()) {
            if (!quoted.group(1).startsWith("org.apache.spark.")) {
                return quoted.group(2).strip();
            }
        }
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        int end = m.indexOf('\n');
        return (end < 0 ? m : m.substring(0, end)).strip();
    }

    /** Whether an exception of {@code type} is in {@code failure}'s chain of causes. */
    private static boolean causedBy(Throwable failure, Class<? extends Throwable> type) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    /** Every message of a failure's chain of causes. */
    private static String messages(Throwable failure) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = failure; t != null && all.length() < 100_000; t = t.getCause() == t ? null : t.getCause()) {
            all.append(t.getMessage()).append('\n');
        }
        return all.toString();
    }

    /** A round that failed in every attempt; the run stops. */
    public static final class RoundFailed extends RuntimeException {
        RoundFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Payload in one direction; labels are left out, as the reference counts. */
    private static long payload(List<TrafficRecord> rows, Direction d) {
        return rows.stream().filter(r -> r.direction().equals(d.column()) && !r.kind().equals(Kind.LABELS.column()))
                .mapToLong(TrafficRecord::payloadBytes).sum();
    }

    private static void writePlots(ResultsWriter out, String name) {
        try {
            Map<String, List<RoundRecord>> runs = Map.of(name, out.rounds());
            out.write("accuracy_vs_traffic.png", Plots.accuracyAgainst("cumulative payload traffic (MB)", runs, Plots::megabytes));
            out.write("accuracy_vs_time.png", Plots.accuracyAgainst("time (s)", runs, RoundRecord::cumulativeSeconds));
        } catch (IOException ex) {
            throw new IllegalStateException("cannot write plots to " + out.location() + ": " + ex.getMessage(), ex);
        }
    }
}
