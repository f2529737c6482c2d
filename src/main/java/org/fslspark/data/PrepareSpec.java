package org.fslspark.data;

import java.util.List;
import java.util.Locale;

/**
 * A {@code prepare} job: which dataset to read, how to split it among institutes, and where each share and the
 * test set go. Field names follow the experiment config keys (the {@code KEY_*} constants) so messages name the
 * key a user can fix.
 *
 * @param dataset      a name recorded in every written file (e.g. {@code fashion-mnist})
 * @param format       the source format
 * @param train        training source paths: idx = [images, labels]; cifar = one or more batch files; parquet =
 *                     files or directories
 * @param test         test source paths, same shapes as {@code train}; may be empty only when {@code testLocation}
 *                     is null
 * @param classes      number of classes (idx: at most 256; cifar: 10 or 100; parquet: 0 = from file metadata)
 * @param shape        image shape for Parquet sources without shape metadata; null otherwise
 * @param institutes   each institute and the location (any Hadoop URI) its share is written to
 * @param scheme       how training samples are split
 * @param alpha        Dirichlet concentration (dirichlet only; smaller = more skewed)
 * @param column       the source column naming each sample's institute (column only)
 * @param seed         makes subset and partition reproducible
 * @param trainSubset  use a seeded random subset of this many training samples; 0 = all
 * @param testLocation where the test set is written, or null for none
 * @param overwrite    replace existing output locations instead of refusing
 */
public record PrepareSpec(String dataset, Format format, List<String> train, List<String> test, int classes,
                          ImageShape shape, List<Target> institutes, Scheme scheme, double alpha, String column,
                          long seed, int trainSubset, String testLocation, boolean overwrite) {

    public static final String KEY_DATASET = "data.dataset";
    public static final String KEY_FORMAT = "data.format";
    public static final String KEY_TRAIN = "data.train";
    public static final String KEY_TEST = "data.test";
    public static final String KEY_CLASSES = "data.classes";
    public static final String KEY_SHAPE = "data.input-shape";
    public static final String KEY_INSTITUTES = "institutes";
    public static final String KEY_SCHEME = "data.partition.scheme";
    public static final String KEY_ALPHA = "data.partition.alpha";
    public static final String KEY_COLUMN = "data.partition.column";
    public static final String KEY_SUBSET = "data.train-subset";
    public static final String KEY_LOCATION = "data.location";

    public PrepareSpec {
        train = train == null ? List.of() : List.copyOf(train);
        test = test == null ? List.of() : List.copyOf(test);
        institutes = institutes == null ? List.of() : List.copyOf(institutes);
        if (column == null || column.isBlank()) {
            column = ParquetImages.INSTITUTE;
        }
    }

    /** An institute and where its share goes. */
    public record Target(String institute, String location) {
    }

    public enum Format {
        IDX, CIFAR, PARQUET;

        public static Format parse(String s) {
            return parseEnum(Format.class, s, KEY_FORMAT);
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public enum Scheme {
        IID, DIRICHLET, COLUMN;

        public static Scheme parse(String s) {
            return parseEnum(Scheme.class, s, KEY_SCHEME);
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The partitioner this spec describes; the column scheme also needs the source's column values. */
    public Partitioner partitioner(String[] columnValues) {
        return switch (scheme) {
            case IID -> Partitioner.iid(seed);
            case DIRICHLET -> Partitioner.dirichlet(alpha, seed);
            case COLUMN -> Partitioner.byColumn(column, columnValues);
        };
    }

    private static <E extends Enum<E>> E parseEnum(Class<E> type, String s, String key) {
        for (E e : type.getEnumConstants()) {
            if (e.toString().equals(s == null ? null : s.trim().toLowerCase(Locale.ROOT))) {
                return e;
            }
        }
        throw new DataException(key + " must be one of " + java.util.Arrays.toString(type.getEnumConstants()) + ", got '" + s + "'");
    }
}
