package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.RemoteIterator;
import org.fslspark.config.Experiment;
import org.fslspark.metrics.HadoopFiles;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.Tensor;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The training state after round t, in {@code <output>/state/round-<t>/} on any Hadoop file system:
 * {@code state.properties} (the round counter, flags and cumulative figures), {@code global.frame}
 * (x_c, x_s and the head the clients receive next, as a frame), {@code executors/<name>.frame} (what the
 * executors hold, {@link HeldState}) and, written last, the marker {@code _COMPLETE}. The directory is
 * written as {@code round-<t>.tmp} and renamed, so a crash leaves either no directory or one whose
 * missing marker says it is incomplete. What the executors hold is written by the driver from their
 * task results, or by the executors themselves into {@code round-<t>.tmp/attempt-<a>/} during the round
 * and moved into {@code executors/} by the driver, as an output committer does ({@code checkpoint.writer}).
 */
final class RoundCheckpoints {
    static final String MARKER = "_COMPLETE";
    private static final String PREFIX = "round-";
    private static final String EXECUTORS = "executors";
    /** Where an attempt's executors write their parts: {@code round-<t>.tmp/attempt-<a>/}. */
    private static final String ATTEMPT = "attempt-";

    private final Path dir;
    private final FileSystem fs;
    private final Experiment.Checkpointing policy;

    RoundCheckpoints(String output, Configuration conf, Experiment.Checkpointing policy) {
        this.dir = new Path(output, "state");
        this.policy = policy;
        try {
            this.fs = dir.getFileSystem(conf);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot open " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Whether round t (of {@code rounds}) ends with a checkpoint: every interval-th round and the last. */
    boolean due(int t, int rounds) {
        return policy.enabled() && ((t + 1) % policy.interval() == 0 || t == rounds - 1);
    }

    /**
     * Whether the executors write their parts of the state themselves ({@code checkpoint.writer}); "auto": when they
     * share the location's file system with the driver, which a file system other than the local one is taken to be,
     * and the local one when the driver listens on loopback (local mode, a test-bed on one machine), where every
     * executor runs on the driver's machine.
     */
    boolean executorsWrite(org.apache.spark.SparkContext sc) {
        return switch (policy.writer()) {
            case "executors" -> true;
            case "driver" -> false;
            default -> !(fs instanceof LocalFileSystem || fs instanceof RawLocalFileSystem) || sc.isLocal()
                    || loopback(sc.conf().get("spark.driver.host", ""));
        };
    }

    private static boolean loopback(String host) {
        try {
            return !host.isEmpty() && java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /**
     * Makes way for round {@code t}'s checkpoint: removes what an interrupted write left of it, before the round's
     * executors write their parts ({@link #partsDir}).
     */
    void begin(int t) {
        Path tmp = new Path(dir, PREFIX + t + ".tmp");
        try {
            fs.delete(tmp, true);
        } catch (IOException e) {
            throw new IllegalStateException("cannot clear " + tmp + ": " + e.getMessage(), e);
        }
    }

    /**
     * Where the executors of attempt {@code attempt} at round {@code t} write their parts of the state
     * ({@link HeldCopy#keep}), qualified so that every executor resolves it alike: a directory per attempt, so that a
     * straggling task of a failed attempt cannot overwrite the rerun's files.
     */
    String partsDir(int t, int attempt) {
        return fs.makeQualified(new Path(dir, PREFIX + t + ".tmp/" + ATTEMPT + attempt)).toString();
    }

    /**
     * Writes the state reached after round {@code state.round() - 1}, then keeps only the newest complete ones, and
     * returns the state with its copies that are files now naming them in the checkpoint: parts the round's executors
     * wrote are moved in, older ones (of entries nobody used since) copied, so that every checkpoint stands alone.
     */
    TrainingState write(TrainingState state) {
        Path done = new Path(dir, PREFIX + (state.round() - 1));
        Path tmp = new Path(dir, done.getName() + ".tmp");
        String parts = fs.makeQualified(tmp) + "/" + ATTEMPT;
        try {
            Properties p = new Properties();
            p.setProperty("round", Integer.toString(state.round()));
            p.setProperty("aligned-before", Boolean.toString(state.alignedBefore()));
            p.setProperty("cumulative-payload-bytes", Long.toString(state.cumulativePayloadBytes()));
            p.setProperty("cumulative-wire-bytes", Long.toString(state.cumulativeWireBytes()));
            // Double.toString reads back to the same double.
            p.setProperty("cumulative-seconds", Double.toString(state.cumulativeSeconds()));
            p.setProperty("cumulative-modelled-seconds", Double.toString(state.cumulativeModelledSeconds()));
            ByteArrayOutputStream text = new ByteArrayOutputStream();
            p.store(text, "fsl-spark training state after round " + (state.round() - 1));
            HadoopFiles.write(fs, new Path(tmp, "state.properties"), text.toByteArray());
            List<Tensor> global = new ArrayList<>(List.of(Tensor.of(Kind.MODEL, state.client()), Tensor.of(Kind.MODEL, state.server())));
            if (state.auxiliary() != null) {
                global.add(Tensor.of(Kind.AUXILIARY_MODEL, state.auxiliary()));
            }
            HadoopFiles.write(fs, new Path(tmp, "global.frame"), FrameCodec.encode(new Message(Message.Type.MODEL, -1, 0, global)));
            Map<String, HeldCopy> stored = new TreeMap<>();
            for (Map.Entry<String, HeldCopy> e : state.executors().entrySet()) {
                String file = EXECUTORS + "/" + e.getKey() + ".frame";
                HeldCopy copy = e.getValue();
                if (!copy.inFile()) {
                    HadoopFiles.write(fs, new Path(tmp, file), copy.frame());
                    stored.put(e.getKey(), copy);
                    continue;
                }
                place(copy, new Path(tmp, file), copy.file().startsWith(parts));
                stored.put(e.getKey(), new HeldCopy(null, fs.makeQualified(new Path(done, file)).toString(), copy.length()));
            }
            // Left by the round's attempts: the files of the one that counted are moved out, failed ones' are dropped.
            for (FileStatus s : fs.listStatus(tmp)) {
                if (s.isDirectory() && s.getPath().getName().startsWith(ATTEMPT)) {
                    fs.delete(s.getPath(), true);
                }
            }
            fs.delete(done, true);
            if (!fs.rename(tmp, done)) {
                throw new IOException("rename " + tmp + " to " + done + " returned false");
            }
            HadoopFiles.write(fs, new Path(done, MARKER), new byte[0]);
            prune();
            return state.withExecutors(Map.copyOf(stored));
        } catch (IOException e) {
            throw new IllegalStateException("cannot write the checkpoint " + done + ": " + e.getMessage(), e);
        }
    }

    /** Moves (a part of this round's) or copies (an older checkpoint's) {@code copy}'s file to {@code target}. */
    private void place(HeldCopy copy, Path target, boolean move) throws IOException {
        Path from = new Path(copy.file());
        long length;
        try {
            length = fs.getFileStatus(from).getLen();
        } catch (java.io.FileNotFoundException e) {
            throw new IOException("an executor wrote its part of the training state to " + from + ", which the driver does not"
                    + " find: the executors do not share that file system with the driver. Put the output on one they share"
                    + " (hdfs://, s3a://, a shared mount) or set checkpoint.writer = driver", e);
        }
        if (length != copy.length()) {
            throw new IOException(from + " holds " + length + " bytes, not the " + copy.length() + " its executor wrote");
        }
        fs.mkdirs(target.getParent());
        if (move) {
            if (!fs.rename(from, target)) {
                throw new IOException("rename " + from + " to " + target + " returned false");
            }
        } else if (!FileUtil.copy(fs, from, fs, target, false, fs.getConf())) {
            throw new IOException("copy " + from + " to " + target + " returned false");
        }
    }

    /** Deletes every checkpoint directory (complete, incomplete or temporary) but the newest {@code keep} complete ones. */
    private void prune() throws IOException {
        List<Path> complete = new ArrayList<>();
        for (Path p : newestFirst()) {
            if (complete.size() < policy.keep() && isComplete(p)) {
                complete.add(p);
            } else {
                fs.delete(p, true);
            }
        }
    }

    /**
     * The newest complete state; a checkpoint without its marker (its write was interrupted) is skipped
     * for the one before, with a message to {@code log}.
     */
    TrainingState latest(Consumer<String> log) {
        try {
            for (Path p : newestFirst()) {
                if (p.getName().endsWith(".tmp")) {
                    continue;
                }
                if (!isComplete(p)) {
                    log.accept("skipping " + p + ": no " + MARKER + " marker (its write did not finish)");
                    continue;
                }
                return read(p);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the checkpoints in " + dir + ": " + e.getMessage(), e);
        }
        throw new IllegalArgumentException("no complete checkpoint in " + dir + " to resume from"
                + " (checkpoint.interval = 0 writes none)");
    }

    private TrainingState read(Path p) throws IOException {
        Properties props = new Properties();
        props.load(new StringReader(new String(bytes(new Path(p, "state.properties")), java.nio.charset.StandardCharsets.UTF_8)));
        Message global = FrameCodec.decode(bytes(new Path(p, "global.frame")));
        INDArray auxiliary = global.tensors().size() > 2 ? global.tensor(2).toArray() : null;
        Map<String, HeldCopy> held = new HashMap<>();
        Path executors = new Path(p, EXECUTORS);
        if (fs.exists(executors)) {
            String root = fs.getFileStatus(executors).getPath().toUri().getPath() + "/";
            RemoteIterator<LocatedFileStatus> files = fs.listFiles(executors, true);
            while (files.hasNext()) {
                Path f = files.next().getPath();
                String name = f.toUri().getPath().substring(root.length());
                if (name.endsWith(".frame")) {
                    held.put(name.substring(0, name.length() - ".frame".length()), HeldCopy.of(bytes(f)));
                }
            }
        }
        return new TrainingState(Integer.parseInt(props.getProperty("round")), global.tensor(0).toArray(),
                global.tensor(1).toArray(), auxiliary, Boolean.parseBoolean(props.getProperty("aligned-before")),
                Long.parseLong(props.getProperty("cumulative-payload-bytes")),
                Long.parseLong(props.getProperty("cumulative-wire-bytes")),
                Double.parseDouble(props.getProperty("cumulative-seconds")),
                Double.parseDouble(props.getProperty("cumulative-modelled-seconds")), held);
    }

    /** Whether a complete state exists to resume from. */
    boolean hasComplete() {
        try {
            for (Path p : newestFirst()) {
                if (isComplete(p)) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the checkpoints in " + dir + ": " + e.getMessage(), e);
        }
    }

    private boolean isComplete(Path p) throws IOException {
        return !p.getName().endsWith(".tmp") && fs.exists(new Path(p, MARKER));
    }

    /** The checkpoint directories (and leftovers of interrupted writes), newest round first. */
    private List<Path> newestFirst() throws IOException {
        List<Path> out = new ArrayList<>();
        if (!fs.exists(dir)) {
            return out;
        }
        for (FileStatus s : fs.listStatus(dir)) {
            if (s.isDirectory() && s.getPath().getName().matches(PREFIX + "\\d+(\\.tmp)?")) {
                out.add(s.getPath());
            }
        }
        out.sort(Comparator.comparingInt(RoundCheckpoints::roundOf).reversed());
        return out;
    }

    private static int roundOf(Path p) {
        return Integer.parseInt(p.getName().substring(PREFIX.length()).replace(".tmp", ""));
    }

    private byte[] bytes(Path p) throws IOException {
        try (InputStream in = fs.open(p)) {
            return in.readAllBytes();
        }
    }
}
