package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.fslspark.metrics.HadoopFiles;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * The driver's copy of one entry of the executors' training state ({@link HeldState}): the encoded entry, or the file of
 * a round checkpoint that an executor wrote it to ({@code checkpoint.writer}), with its length. A file is read back only
 * where a copy is needed: by the executors of a rerun or of a site that rejoins. Executors write their own parts so
 * that tens of MB a round (FSL-SAGE's alignment buffers) need not pass through Spark's task results, which the driver
 * fetches at 100-400 MB/s (docs/RELIABILITY.md).
 *
 * @param frame  the encoded entry, or null when it is in {@code file}
 * @param file   the qualified path of the file holding it, or null
 * @param length the entry's length in bytes
 */
record HeldCopy(byte[] frame, String file, long length) implements Serializable {

    static HeldCopy of(byte[] frame) {
        return new HeldCopy(frame, null, frame.length);
    }

    boolean inFile() {
        return file != null;
    }

    /**
     * The task's encoded entries as the driver keeps them: written by this executor to the plan's checkpoint directory
     * when it has one ({@link RoundPlan#stateFiles()}), else returned as they are.
     */
    static Map<String, HeldCopy> keep(RoundPlan plan, Map<String, HeldState.Encoded> encoded) {
        Map<String, HeldCopy> out = new TreeMap<>();
        if (plan.stateFiles().isEmpty()) {
            encoded.forEach((name, e) -> out.put(name, of(e.frame())));
            return out;
        }
        try {
            return write(plan.stateFiles(), SiteData.hadoopConf(plan.hadoopConf()), encoded);
        } catch (IOException e) {
            throw new IllegalStateException("round " + plan.round() + ": cannot write the executor's training state to "
                    + plan.stateFiles() + ": " + e.getMessage() + " (checkpoint.writer = executors needs a checkpoint location"
                    + " every executor can write)", e);
        }
    }

    /** Writes each entry to a file of its own in {@code dir}. */
    static Map<String, HeldCopy> write(String dir, Configuration conf, Map<String, HeldState.Encoded> encoded)
            throws IOException {
        Map<String, HeldCopy> out = new TreeMap<>();
        FileSystem fs = new Path(dir).getFileSystem(conf);
        for (Map.Entry<String, HeldState.Encoded> e : encoded.entrySet()) {
            // A name of its own: two tasks may save the same entry (an aligner and the server stage on two executors of
            // the server site), and the driver keeps the newer one's file.
            Path file = new Path(dir, e.getKey() + "." + java.util.UUID.randomUUID() + ".frame");
            out.put(e.getKey(), new HeldCopy(null, file.toString(), HadoopFiles.write(fs, file, e.getValue())));
        }
        return out;
    }

    /** The encoded entry, read from its file (whose length is checked before anything is allocated for it) if need be. */
    byte[] frame(Configuration conf) {
        if (frame != null) {
            return frame;
        }
        Path p = new Path(file);
        try {
            FileSystem fs = p.getFileSystem(conf);
            long found = fs.getFileStatus(p).getLen();
            if (found != length) {
                throw new IllegalStateException("the training state in " + file + " holds " + found + " bytes, not the "
                        + length + " written");
            }
            try (InputStream in = fs.open(p)) {
                return in.readNBytes((int) length);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the training state in " + file + ": " + e.getMessage(), e);
        }
    }

    /** The encoded entries of {@code copies} that make up entry {@code name} ({@link HeldState#entryOf}), read if need be. */
    static Map<String, byte[]> frames(Map<String, HeldCopy> copies, String name, Configuration conf) {
        Map<String, byte[]> out = new TreeMap<>();
        copies.forEach((k, copy) -> {
            if (HeldState.entryOf(k).equals(name)) {
                out.put(k, copy.frame(conf));
            }
        });
        return out;
    }
}
