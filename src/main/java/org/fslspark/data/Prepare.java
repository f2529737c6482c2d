package org.fslspark.data;

import org.apache.commons.math3.random.Well19937c;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The {@code prepare} step: read a source dataset, split its training samples among institutes, write each
 * share to its institute's own location and the test set to its location, and report what went where.
 *
 * <p>Everything that can be checked is checked before anything is written (spec, sources, output locations,
 * the partition itself). Shares are then written to hidden temporary siblings and moved into place only
 * when all of them have been written, so a failure leaves no output location half-written.
 */
public final class Prepare {
    private Prepare() {
    }

    /** One written share. */
    public record Share(String institute, String location, long samples, long[] labelHistogram) {
    }

    /** What prepare wrote. */
    public record Result(String dataset, String partitioning, List<Share> shares, Share test) {
        /** A table of samples and label histogram per institute, as printed. */
        public String table() {
            int classes = shares.get(0).labelHistogram().length;
            List<Share> rows = new ArrayList<>(shares);
            if (test != null) {
                rows.add(test);
            }
            int nameWidth = Math.max("institute".length(), rows.stream().mapToInt(s -> s.institute().length()).max().orElse(0));
            long max = rows.stream().flatMapToLong(s -> Arrays.stream(s.labelHistogram())).max().orElse(0);
            int cell = Math.max(Long.toString(max).length(), Integer.toString(classes - 1).length()) + 1;
            StringBuilder b = new StringBuilder();
            long total = shares.stream().mapToLong(Share::samples).sum();
            b.append(String.format(Locale.ROOT, "prepared %s: %d training samples among %d institutes (%s)%n",
                    dataset, total, shares.size(), partitioning));
            b.append(String.format(Locale.ROOT, "%-" + nameWidth + "s %8s  ", "institute", "samples"));
            b.append("label histogram:");
            for (int c = 0; c < classes; c++) {
                b.append(String.format(Locale.ROOT, "%" + cell + "d", c));
            }
            b.append("  location").append(System.lineSeparator());
            for (Share s : rows) {
                b.append(String.format(Locale.ROOT, "%-" + nameWidth + "s %8d  %16s", s.institute(), s.samples(), ""));
                for (long h : s.labelHistogram()) {
                    b.append(String.format(Locale.ROOT, "%" + cell + "d", h));
                }
                b.append("  ").append(s.location()).append(System.lineSeparator());
            }
            return b.toString();
        }
    }

    /** Runs the job, printing the table to {@code out} (may be null). */
    public static Result run(Configuration conf, PrepareSpec spec, PrintStream out) {
        validate(conf, spec);
        Source train = readSource(conf, spec, spec.train(), spec.scheme() == PrepareSpec.Scheme.COLUMN);
        LabeledImages data = train.images;
        String[] column = train.column;
        if (spec.trainSubset() > 0) {
            if (spec.trainSubset() > data.size()) {
                throw new DataException(PrepareSpec.KEY_SUBSET + " = " + spec.trainSubset() + " exceeds the "
                        + data.size() + " training samples of " + spec.train());
            }
            int[] pick = subset(data.size(), spec.trainSubset(), spec.seed());
            data = data.subset(pick);
            if (column != null) {
                String[] all = column;
                column = Arrays.stream(pick).mapToObj(i -> all[i]).toArray(String[]::new);
            }
        }
        List<String> names = spec.institutes().stream().map(PrepareSpec.Target::institute).toList();
        Partitioner.Assignment assignment = spec.partitioner(column).assign(data, names);
        LabeledImages testData = spec.testLocation() == null ? null : readSource(conf, spec, spec.test(), false).images;
        if (testData != null && (testData.channels() != data.channels() || testData.height() != data.height()
                || testData.width() != data.width() || testData.classes() != data.classes())) {
            throw new DataException("the test set " + spec.test() + " (" + testData + ") does not match the training set "
                    + spec.train() + " (" + data + ")");
        }

        // Write everything aside first; move into place only when every share has been written.
        Map<String, String> prepared = PreparedKeys.of(spec);
        List<PartitionStore.Staged> staged = new ArrayList<>();
        List<Share> shares = new ArrayList<>();
        Share testShare = null;
        try {
            for (PrepareSpec.Target t : spec.institutes()) {
                LabeledImages share = data.subset(assignment.of(t.institute()));
                staged.add(PartitionStore.stage(conf, new Path(t.location()), t.institute(), spec.dataset(), share,
                        prepared));
                shares.add(new Share(t.institute(), DataFiles.qualified(conf, new Path(t.location())), share.size(),
                        share.labelHistogram()));
            }
            if (testData != null) {
                staged.add(PartitionStore.stage(conf, new Path(spec.testLocation()), PartitionStore.TEST, spec.dataset(), testData,
                        prepared));
                testShare = new Share(PartitionStore.TEST, DataFiles.qualified(conf, new Path(spec.testLocation())),
                        testData.size(), testData.labelHistogram());
            }
            List<PartitionStore.Staged> done = new ArrayList<>();
            try {
                for (PartitionStore.Staged s : staged) {
                    s.commit(spec.overwrite());
                    done.add(s);
                }
            } catch (RuntimeException e) {
                done.forEach(PartitionStore.Staged::rollback);
                throw e;
            }
        } finally {
            staged.forEach(PartitionStore.Staged::abort);
        }
        String how = switch (spec.scheme()) {
            case IID -> "iid, seed " + spec.seed();
            case DIRICHLET -> "dirichlet, alpha " + spec.alpha() + ", seed " + spec.seed();
            case COLUMN -> "by column '" + spec.column() + "'";
        } + (spec.trainSubset() > 0 ? ", subset of " + spec.trainSubset() : "");
        Result result = new Result(spec.dataset(), how, List.copyOf(shares), testShare);
        if (out != null) {
            out.print(result.table());
            out.flush();
        }
        return result;
    }

    /** A seeded random choice of {@code k} of {@code n} indices, ascending (source order kept). */
    static int[] subset(int n, int k, long seed) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        // A stream distinct from the partitioner's, so the same seed does not correlate subset and split.
        Well19937c rng = new Well19937c(new int[]{(int) seed, (int) (seed >>> 32), 0x5b5e7});
        for (int i = 0; i < k; i++) {
            int j = i + rng.nextInt(n - i);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        int[] pick = Arrays.copyOf(a, k);
        Arrays.sort(pick);
        return pick;
    }

    private record Source(LabeledImages images, String[] column) {
    }

    private static Source readSource(Configuration conf, PrepareSpec spec, List<String> paths, boolean withColumn) {
        List<Path> p = paths.stream().map(Path::new).toList();
        return switch (spec.format()) {
            case IDX -> new Source(IdxReader.read(conf, p.get(0), p.get(1), spec.classes()), null);
            case CIFAR -> new Source(CifarReader.read(conf, CifarReader.Variant.forClasses(spec.classes()), p), null);
            case PARQUET -> {
                ParquetImages.Loaded l = ParquetImages.read(conf, p, spec.classes(), spec.shape(),
                        withColumn ? spec.column() : null);
                yield new Source(l.images(), l.institutes());
            }
        };
    }

    /**
     * Checks the institutes' names (valid, not reserved, each once) into {@code problems}; returns the
     * outputs to check, {what, location} per institute.
     */
    static List<String[]> checkInstitutes(List<PrepareSpec.Target> institutes, List<String> problems) {
        Set<String> names = new HashSet<>();
        List<String[]> outputs = new ArrayList<>();
        for (PrepareSpec.Target t : institutes) {
            try {
                PartitionStore.checkInstituteName(t.institute());
                if (t.institute().startsWith("_")) {
                    problems.add(PrepareSpec.KEY_INSTITUTES + ": '" + t.institute() + "' is reserved (names starting with _)");
                }
            } catch (DataException e) {
                problems.add(PrepareSpec.KEY_INSTITUTES + ": " + e.getMessage());
            }
            if (!names.add(t.institute())) {
                problems.add(PrepareSpec.KEY_INSTITUTES + " names '" + t.institute() + "' twice");
            }
            outputs.add(new String[]{"the location of '" + t.institute() + "'", t.location()});
        }
        return outputs;
    }

    /**
     * Checks the spec, that the sources exist and that every output location can be written, collecting every
     * problem into one message. Writes nothing.
     */
    public static void validate(Configuration conf, PrepareSpec spec) {
        List<String> problems = new ArrayList<>();
        if (spec.dataset() == null || spec.dataset().isBlank() || spec.dataset().contains("\n")) {
            problems.add(PrepareSpec.KEY_DATASET + " must name the dataset, got '" + spec.dataset() + "'");
        }
        if (spec.format() == null) {
            problems.add(PrepareSpec.KEY_FORMAT + " must be one of " + Arrays.toString(PrepareSpec.Format.values()));
        } else {
            checkSources(spec, spec.train(), PrepareSpec.KEY_TRAIN, problems);
            if (spec.testLocation() != null) {
                checkSources(spec, spec.test(), PrepareSpec.KEY_TEST, problems);
            }
            switch (spec.format()) {
                case IDX -> {
                    if (spec.classes() < 1 || spec.classes() > 256) {
                        problems.add(PrepareSpec.KEY_CLASSES + " must be in [1, 256] for idx, got " + spec.classes());
                    }
                }
                case CIFAR -> {
                    if (spec.classes() != 10 && spec.classes() != 100) {
                        problems.add(PrepareSpec.KEY_CLASSES + " must be 10 (CIFAR-10) or 100 (CIFAR-100) for cifar, got "
                                + spec.classes());
                    }
                }
                case PARQUET -> {
                    if (spec.classes() < 0) {
                        problems.add(PrepareSpec.KEY_CLASSES + " must be >= 0 (0: from the files' metadata), got " + spec.classes());
                    }
                }
            }
        }
        if (spec.scheme() == null) {
            problems.add(PrepareSpec.KEY_SCHEME + " must be one of " + Arrays.toString(PrepareSpec.Scheme.values()));
        } else if (spec.scheme() == PrepareSpec.Scheme.DIRICHLET && (!(spec.alpha() > 0) || Double.isInfinite(spec.alpha()))) {
            problems.add(PrepareSpec.KEY_ALPHA + " must be a finite number > 0 for dirichlet partitioning, got " + spec.alpha());
        } else if (spec.scheme() == PrepareSpec.Scheme.COLUMN && spec.format() != null
                && spec.format() != PrepareSpec.Format.PARQUET) {
            problems.add(PrepareSpec.KEY_SCHEME + " = column needs a parquet source with a column '" + spec.column()
                    + "' (" + PrepareSpec.KEY_COLUMN + "), but " + PrepareSpec.KEY_FORMAT + " = " + spec.format());
        }
        if (spec.trainSubset() < 0) {
            problems.add(PrepareSpec.KEY_SUBSET + " must be >= 0 (0: all), got " + spec.trainSubset());
        }
        if (spec.institutes().isEmpty()) {
            problems.add(PrepareSpec.KEY_INSTITUTES + " must list at least one institute");
        }
        List<String[]> outputs = checkInstitutes(spec.institutes(), problems);
        if (spec.testLocation() != null) {
            outputs.add(new String[]{"the test set location", spec.testLocation()});
        }
        checkOutputs(conf, outputs, spec.overwrite(), problems);
        if (problems.isEmpty()) {
            checkSourcesExist(conf, spec, problems);
        }
        if (!problems.isEmpty()) {
            throw new DataException("prepare: nothing written, " + (problems.size() == 1 ? "" : problems.size() + " problems: ")
                    + String.join("; ", problems));
        }
    }

    private static void checkSources(PrepareSpec spec, List<String> paths, String key, List<String> problems) {
        if (paths.stream().anyMatch(p -> p == null || p.isBlank())) {
            problems.add(key + " holds an empty path: " + paths);
        } else if (spec.format() == PrepareSpec.Format.IDX && paths.size() != 2) {
            problems.add(key + " must be [images file, labels file] for idx, got " + paths);
        } else if (paths.isEmpty()) {
            problems.add(key + " must list at least one source file");
        }
    }

    private static void checkSourcesExist(Configuration conf, PrepareSpec spec, List<String> problems) {
        List<String> all = new ArrayList<>(spec.train());
        if (spec.testLocation() != null) {
            all.addAll(spec.test());
        }
        for (String s : all) {
            Path p = new Path(s);
            try {
                if (!p.getFileSystem(conf).exists(p)) {
                    problems.add(DataFiles.qualified(conf, p) + ": file not found");
                }
            } catch (IOException | RuntimeException e) {
                problems.add(s + ": cannot access (" + e.getMessage() + ")");
            }
        }
    }

    static void checkOutputs(Configuration conf, List<String[]> outputs, boolean overwrite, List<String> problems) {
        List<String> qualified = new ArrayList<>();
        for (String[] o : outputs) {
            String what = o[0];
            String loc = o[1];
            if (loc == null || loc.isBlank()) {
                problems.add(what + " is empty");
                qualified.add(null);
                continue;
            }
            try {
                Path p = new Path(loc);
                FileSystem fs = p.getFileSystem(conf);
                Path q = fs.makeQualified(p);
                qualified.add(q.toString());
                if (q.getParent() == null) {
                    problems.add(what + " " + q + " is a file system root");
                } else if (fs.exists(q)) {
                    if (!overwrite) {
                        problems.add(what + " " + q + " exists already; set overwrite to replace it");
                    } else if (!fs.getFileStatus(q).isDirectory()) {
                        problems.add(what + " " + q + " is a file, not a partition directory; remove it first");
                    }
                } else {
                    String blocked = blockingAncestor(fs, q);
                    if (blocked != null) {
                        problems.add(what + " " + q + " cannot be written: " + blocked);
                    }
                }
            } catch (IOException | RuntimeException e) {
                problems.add(what + " " + loc + " cannot be written: " + e.getMessage());
                qualified.add(null);
            }
        }
        for (int i = 0; i < qualified.size(); i++) {
            for (int j = i + 1; j < qualified.size(); j++) {
                String a = qualified.get(i);
                String b = qualified.get(j);
                if (a == null || b == null) {
                    continue;
                }
                if (a.equals(b) || b.startsWith(a + "/") || a.startsWith(b + "/")) {
                    problems.add(outputs.get(i)[0] + " " + a + " and " + outputs.get(j)[0] + " " + b
                            + " overlap; every share needs its own location");
                }
            }
        }
    }

    /** Why a missing location cannot be created under its nearest existing ancestor, or null if it can. */
    private static String blockingAncestor(FileSystem fs, Path q) throws IOException {
        for (Path a = q.getParent(); a != null; a = a.getParent()) {
            FileStatus st;
            try {
                st = fs.getFileStatus(a);
            } catch (FileNotFoundException e) {
                continue;
            }
            if (!st.isDirectory()) {
                return a + " is a file, not a directory";
            }
            try {
                fs.access(a, org.apache.hadoop.fs.permission.FsAction.WRITE_EXECUTE);
            } catch (org.apache.hadoop.security.AccessControlException e) {
                return "no permission to write in " + a;
            } catch (UnsupportedOperationException e) {
                // The file system cannot tell; the write itself will say.
            }
            return null;
        }
        return null;
    }
}
