package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * One institute's share of a dataset at its own location: {@code <location>/part-00000.parquet} (schema in
 * data-schemas/image-partition.md) and {@code <location>/_SUCCESS}. The Parquet footer names the institute the
 * share belongs to; {@link #read} refuses a share that belongs to another institute (the placement guard).
 *
 * <p>{@code _SUCCESS} is written last and carries a summary (institute, shape, sample count, label histogram)
 * so the driver can check a location and weight institutes without opening any training data.
 *
 * <p>Writes go to a hidden temporary sibling ({@code .<name>.tmp-<uuid>}) that is renamed into place, so a
 * failed write leaves nothing at the location.
 */
public final class PartitionStore {
    /** The institute name of the held-out test set, which any task may read. */
    public static final String TEST = "_test";
    public static final String DATA_FILE = "part-00000.parquet";
    public static final String SUCCESS = "_SUCCESS";

    private PartitionStore() {
    }

    /** What a location holds, from its {@code _SUCCESS} summary. */
    public record PartitionInfo(String institute, String dataset, ImageShape shape, int classes, long samples,
                                long[] labelHistogram) {
        @Override
        public String toString() {
            return "PartitionInfo[institute=" + institute + ", dataset=" + dataset + ", shape=" + shape + ", classes="
                    + classes + ", samples=" + samples + ", labelHistogram=" + Arrays.toString(labelHistogram) + "]";
        }
    }

    /** Writes {@code data} as the share of {@code institute} at {@code location}. */
    public static PartitionInfo write(Configuration conf, Path location, String institute, String dataset,
                                      LabeledImages data, boolean overwrite) {
        Staged s = stage(conf, location, institute, dataset, data, Map.of());
        try {
            s.commit(overwrite);
        } catch (RuntimeException e) {
            s.abort();
            throw e;
        }
        return (PartitionInfo) s.info;
    }

    /** Writes the held-out test set (institute {@link #TEST}). */
    public static PartitionInfo writeTest(Configuration conf, Path location, String dataset, LabeledImages data,
                                          boolean overwrite) {
        return write(conf, location, TEST, dataset, data, overwrite);
    }

    /**
     * Reads the share at {@code location} for a task serving {@code institute}.
     *
     * @throws PlacementException if the share belongs to another institute (checked from the footer, before any
     *                            row is read)
     * @throws DataException      if the location is missing, incomplete or corrupt
     */
    public static LabeledImages read(Configuration conf, Path location, String institute) {
        location = normalize(location);
        String where = DataFiles.qualified(conf, location);
        // Refuse from the summary first, so another institute's data file is not even opened; then check the
        // footer too, which travels with the data and so is the authority.
        checkOwner(describe(conf, location).institute(), institute, where);
        Path file = new Path(location, DATA_FILE);
        try (ParquetImages.FileHandle h = new ParquetImages.FileHandle(conf, file)) {
            String owner = h.meta.get(ParquetImages.META_INSTITUTE);
            if (owner == null) {
                throw new DataException(h.name + ": no institute in the file metadata; not a partition written by prepare");
            }
            checkOwner(owner, institute, where);
            ImageShape shape = h.shape();
            int classes = h.metaInt(ParquetImages.META_CLASSES);
            if (shape == null || classes < 0) {
                throw new DataException(h.name + ": metadata lacks channels, height, width or classes");
            }
            ParquetImages.Accumulator acc = new ParquetImages.Accumulator(shape, classes, h.rows, false, h.name);
            h.readRows(acc, 0, null);
            return acc.images();
        }
    }

    /** Reads the held-out test set at {@code location}. */
    public static LabeledImages readTest(Configuration conf, Path location) {
        return read(conf, location, TEST);
    }

    /**
     * Checks, from {@code _SUCCESS} alone (no training data is opened), that {@code location} holds a complete
     * share of {@code institute}; for the driver before it schedules client tasks.
     */
    public static PartitionInfo requirePrepared(Configuration conf, Path location, String institute) {
        String where = DataFiles.qualified(conf, location);
        PartitionInfo info = describe(conf, location);
        checkOwner(info.institute(), institute, where);
        return info;
    }

    /** The summary in {@code location/_SUCCESS}; opens no data file. */
    public static PartitionInfo describe(Configuration conf, Path location) {
        location = normalize(location);
        String where = DataFiles.qualified(conf, location);
        Map<String, String> kv = summary(conf, location);
        if (TokenStore.KIND.equals(kv.get("kind"))) {
            throw new DataException(where + " holds token sequences (text), not images; data.format must be text");
        }
        try {
            long[] hist = Arrays.stream(req(kv, "label_histogram", where).split(","))
                    .mapToLong(x -> Long.parseLong(x.trim())).toArray();
            return new PartitionInfo(req(kv, "institute", where), req(kv, "dataset", where),
                    new ImageShape(Integer.parseInt(req(kv, "channels", where)), Integer.parseInt(req(kv, "height", where)),
                            Integer.parseInt(req(kv, "width", where))),
                    Integer.parseInt(req(kv, "classes", where)), Long.parseLong(req(kv, "samples", where)), hist);
        } catch (NumberFormatException e) {
            throw new DataException(where + "/" + SUCCESS + ": unreadable partition summary (" + e.getMessage()
                    + "); run prepare again", e);
        }
    }

    /** Whether {@code location} holds token sequences (a text partition) rather than images; opens no data file. */
    public static boolean holdsTokens(Configuration conf, Path location) {
        return TokenStore.KIND.equals(summary(conf, normalize(location)).get("kind"));
    }

    /** The key=value lines of {@code location/_SUCCESS}, after checking the location is complete. */
    static Map<String, String> summary(Configuration conf, Path location) {
        String where = DataFiles.qualified(conf, location);
        requireComplete(conf, location, where);
        Map<String, String> kv = new LinkedHashMap<>();
        Path success = new Path(location, SUCCESS);
        try (InputStream in = success.getFileSystem(conf).open(success)) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    kv.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim());
                }
            }
            return kv;
        } catch (IOException e) {
            throw new DataException(where + "/" + SUCCESS + ": unreadable partition summary (" + e.getMessage()
                    + "); run prepare again", e);
        }
    }

    static String req(Map<String, String> kv, String key, String where) {
        String v = kv.get(key);
        if (v == null) {
            throw new DataException(where + "/" + SUCCESS + ": partition summary lacks '" + key + "'; run prepare again");
        }
        return v;
    }

    static void checkOwner(String owner, String institute, String where) {
        if (!owner.equals(institute)) {
            throw new PlacementException("placement violation: a task serving '" + institute
                    + "' was given the partition of '" + owner + "' at " + where + "; each institute's data may be read"
                    + " only by its own tasks" + (TEST.equals(owner) ? " (this is the test set)" : ""));
        }
    }

    static void requireComplete(Configuration conf, Path location, String where) {
        try {
            FileSystem fs = location.getFileSystem(conf);
            if (!fs.exists(location)) {
                throw new DataException(where + ": no partition here (location does not exist); run prepare first");
            }
            if (!fs.exists(new Path(location, SUCCESS))) {
                throw new DataException(where + ": incomplete partition (no " + SUCCESS + "); run prepare again");
            }
        } catch (IOException e) {
            throw new DataException(where + ": cannot access: " + e, e);
        }
    }

    /** Drops a trailing slash ({@code Path(URI)} keeps it), so the location's name and parent are right. */
    static Path normalize(Path p) {
        return new Path(p.toString());
    }

    /** Checks a share's institute name: it becomes metadata and, in prepare, a key in messages. */
    static void checkInstituteName(String institute) {
        if (institute == null || institute.isBlank() || !institute.equals(institute.strip())
                || institute.contains("\n") || institute.contains("=")) {
            throw new DataException("invalid institute name '" + institute + "'");
        }
    }

    /**
     * Writes the share to a hidden temporary sibling of {@code location}; nothing appears at {@code location}
     * until {@link Staged#commit}. {@code prepared}: the keys prepare applied ({@link PreparedKeys}).
     */
    static Staged stage(Configuration conf, Path location, String institute, String dataset, LabeledImages data,
                        Map<String, String> prepared) {
        checkInstituteName(institute);
        location = normalize(location);
        String where = DataFiles.qualified(conf, location);
        if (location.getParent() == null) {
            throw new DataException(where + ": a partition cannot be written to a file system root");
        }
        Path tmp = new Path(location.getParent(), "." + location.getName() + ".tmp-" + UUID.randomUUID());
        FileSystem fs;
        try {
            fs = location.getFileSystem(conf);
        } catch (IOException e) {
            throw new DataException(where + ": cannot write (" + e.getMessage() + ")", e);
        }
        PartitionInfo info = new PartitionInfo(institute, dataset,
                new ImageShape(data.channels(), data.height(), data.width()), data.classes(), data.size(),
                data.labelHistogram());
        try {
            ParquetImages.write(conf, new Path(tmp, DATA_FILE), data,
                    ParquetImages.metadata(data, dataset, institute), null, null);
            try (FSDataOutputStream out = fs.create(new Path(tmp, SUCCESS), false)) {
                out.write((summaryText(info) + PreparedKeys.lines(prepared)).getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException | RuntimeException e) {
            deleteQuietly(fs, tmp);
            throw new DataException("cannot write the partition of '" + institute + "' to " + where + ": " + e, e);
        }
        return new Staged(fs, location, where, tmp, info);
    }

    private static String summaryText(PartitionInfo i) {
        Map<String, String> kv = new LinkedHashMap<>();
        kv.put("institute", i.institute());
        kv.put("dataset", i.dataset());
        kv.put("channels", Integer.toString(i.shape().channels()));
        kv.put("height", Integer.toString(i.shape().height()));
        kv.put("width", Integer.toString(i.shape().width()));
        kv.put("classes", Integer.toString(i.classes()));
        kv.put("samples", Long.toString(i.samples()));
        kv.put("label_histogram", Arrays.stream(i.labelHistogram()).mapToObj(Long::toString).collect(Collectors.joining(",")));
        kv.put("data_file", DATA_FILE);
        kv.put("format_version", ParquetImages.FORMAT_VERSION);
        return kv.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue() + "\n").collect(Collectors.joining());
    }

    static void deleteQuietly(FileSystem fs, Path p) {
        try {
            fs.delete(p, true);
        } catch (IOException | RuntimeException ignored) {
            // Best effort: the temporary name is hidden from readers of the location either way.
        }
    }

    /** A share written to its temporary sibling, waiting to be moved to its location. */
    static final class Staged {
        private final FileSystem fs;
        private final Path location;
        private final String where;
        private final Path tmp;
        final Object info;
        private boolean committed;
        private boolean replaced;

        Staged(FileSystem fs, Path location, String where, Path tmp, Object info) {
            this.fs = fs;
            this.location = location;
            this.where = where;
            this.tmp = tmp;
            this.info = info;
        }

        /** Moves the share into place, replacing what is there only when {@code overwrite}. */
        void commit(boolean overwrite) {
            try {
                Path old = null;
                if (fs.exists(location)) {
                    if (!overwrite) {
                        throw new DataException(where + " exists already; set overwrite to replace it");
                    }
                    // Move the old share aside first so a failed rename can put it back.
                    old = new Path(location.getParent(), "." + location.getName() + ".old-" + UUID.randomUUID());
                    if (!fs.rename(location, old)) {
                        throw new DataException(where + ": cannot move the existing content aside to replace it");
                    }
                }
                if (!fs.rename(tmp, location)) {
                    if (old != null) {
                        fs.rename(old, location);
                    }
                    throw new DataException(where + ": cannot rename the written partition into place");
                }
                committed = true;
                replaced = old != null;
                if (old != null) {
                    deleteQuietly(fs, old);
                }
            } catch (IOException e) {
                throw new DataException(where + ": cannot move the written partition into place: " + e, e);
            }
        }

        /**
         * Undoes a commit that created the location (a replaced share cannot come back: its old copy is gone),
         * for when a later share of the same prepare fails.
         */
        void rollback() {
            if (committed && !replaced) {
                deleteQuietly(fs, location);
                committed = false;
            }
        }

        /** Deletes the temporary copy unless committed. */
        void abort() {
            if (!committed) {
                deleteQuietly(fs, tmp);
            }
        }
    }
}
