package org.fslspark.metrics;

import com.univocity.parsers.csv.CsvParser;
import com.univocity.parsers.csv.CsvParserSettings;
import com.univocity.parsers.csv.CsvWriter;
import com.univocity.parsers.csv.CsvWriterSettings;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Writes a run's results under its output location (any Hadoop file system): the resolved config,
 * rounds and traffic as CSV after every round (so a notebook can follow a run) and as Parquet at
 * the end, plus plots. Schemas: {@link #ROUNDS}, {@link #TRAFFIC}, {@link #ALIGNMENT}, documented in data-schemas/.
 */
public final class ResultsWriter {
    public static final StructType ROUNDS = schema(RoundRecord.COLUMNS, new DataType[]{DataTypes.StringType,
            DataTypes.StringType, DataTypes.IntegerType, DataTypes.DoubleType, DataTypes.DoubleType, DataTypes.LongType,
            DataTypes.LongType, DataTypes.LongType, DataTypes.LongType, DataTypes.LongType, DataTypes.LongType,
            DataTypes.LongType, DataTypes.DoubleType, DataTypes.DoubleType, DataTypes.DoubleType, DataTypes.DoubleType,
            DataTypes.DoubleType, DataTypes.StringType});
    public static final StructType TRAFFIC = schema(TrafficRecord.COLUMNS, new DataType[]{DataTypes.StringType,
            DataTypes.StringType, DataTypes.IntegerType, DataTypes.StringType, DataTypes.StringType,
            DataTypes.StringType, DataTypes.LongType, DataTypes.LongType, DataTypes.LongType, DataTypes.StringType});

    public static final StructType ALIGNMENT = schema(AlignmentRecord.COLUMNS, new DataType[]{DataTypes.StringType,
            DataTypes.StringType, DataTypes.IntegerType, DataTypes.StringType, DataTypes.IntegerType,
            DataTypes.DoubleType, DataTypes.DoubleType, DataTypes.DoubleType, DataTypes.DoubleType,
            DataTypes.DoubleType, DataTypes.DoubleType});

    public static final StructType EVENTS = schema(EventRecord.COLUMNS, new DataType[]{DataTypes.IntegerType,
            DataTypes.StringType, DataTypes.StringType, DataTypes.StringType});

    private final Path out;
    private final FileSystem fs;
    private final List<RoundRecord> rounds = new ArrayList<>();
    private final List<TrafficRecord> traffic = new ArrayList<>();
    private final List<AlignmentRecord> alignment = new ArrayList<>();
    private final List<EventRecord> events = new ArrayList<>();

    private static StructType schema(String[] names, DataType[] types) {
        StructField[] fields = new StructField[names.length];
        for (int i = 0; i < names.length; i++) {
            fields[i] = DataTypes.createStructField(names[i], types[i], false);
        }
        return DataTypes.createStructType(fields);
    }

    /**
     * Checks that the location can be written before any training starts, and records the config.
     * An existing location is refused unless {@code overwrite}, so no earlier results are mixed in.
     */
    public ResultsWriter(String location, Configuration conf, String resolvedConfig, boolean overwrite) {
        this(location, conf);
        try {
            if (fs.exists(out)) {
                if (!overwrite) {
                    throw new IllegalArgumentException("output location " + out + " already exists; choose another --out or pass --overwrite");
                }
                fs.delete(out, true);
            }
            if (!fs.mkdirs(out)) {
                throw new IOException("mkdirs returned false");
            }
            HadoopFiles.replace(fs, new Path(out, "config"), resolvedConfig.getBytes(StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            if (e instanceof IllegalArgumentException) {
                throw (IllegalArgumentException) e;
            }
            throw new IllegalArgumentException("cannot write to output location " + out + ": " + e.getMessage(), e);
        }
    }

    private ResultsWriter(String location, Configuration conf) {
        this.out = new Path(location);
        try {
            this.fs = out.getFileSystem(conf);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot open output location " + out + ": " + e.getMessage(), e);
        }
    }

    /**
     * Continues the results of an earlier run at {@code location} from round {@code rounds}: keeps its
     * rows of rounds 0..rounds-1 (later ones, of rounds whose state was not saved, are dropped) and records
     * the config the run now continues with.
     */
    public static ResultsWriter resume(String location, Configuration conf, String resolvedConfig, int rounds) {
        ResultsWriter w = new ResultsWriter(location, conf);
        try {
            w.rounds.addAll(w.readCsv("rounds.csv", RoundRecord.class, r -> r.round() < rounds));
            w.traffic.addAll(w.readCsv("traffic.csv", TrafficRecord.class, r -> r.round() < rounds));
            w.alignment.addAll(w.readCsv("alignment.csv", AlignmentRecord.class, r -> r.round() < rounds));
            // Events are history: kept whatever round they concern (a diverged round before its resume, say).
            w.events.addAll(w.readCsv("events.csv", EventRecord.class, r -> true));
            HadoopFiles.replace(w.fs, new Path(w.out, "config"), resolvedConfig.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot resume the results in " + location + ": " + e.getMessage(), e);
        }
        w.writeCsv("rounds.csv", RoundRecord.COLUMNS, w.rounds, RoundRecord::values);
        w.writeCsv("traffic.csv", TrafficRecord.COLUMNS, w.traffic, TrafficRecord::values);
        if (!w.alignment.isEmpty()) {
            w.writeCsv("alignment.csv", AlignmentRecord.COLUMNS, w.alignment, AlignmentRecord::values);
        }
        return w;
    }

    /** The text of file {@code name} under the output location {@code location}. */
    public static String read(String location, Configuration conf, String name) {
        Path p = new Path(location, name);
        try (java.io.InputStream in = p.getFileSystem(conf).open(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    public Path location() {
        return out;
    }

    public void append(RoundRecord round, List<TrafficRecord> roundTraffic) {
        rounds.add(round);
        traffic.addAll(roundTraffic);
        writeCsv("rounds.csv", RoundRecord.COLUMNS, rounds, RoundRecord::values);
        writeCsv("traffic.csv", TrafficRecord.COLUMNS, traffic, TrafficRecord::values);
    }

    /** Alignment rows (FSL-SAGE) of the current round; written with the round's other rows. */
    public void appendAlignment(List<AlignmentRecord> rows) {
        alignment.addAll(rows);
        writeCsv("alignment.csv", AlignmentRecord.COLUMNS, alignment, AlignmentRecord::values);
    }

    /** An event (a round retried, a run stopped); written at once, so it survives the run's end. */
    public void appendEvent(EventRecord event) {
        events.add(event);
        writeCsv("events.csv", EventRecord.COLUMNS, events, EventRecord::values);
    }

    public List<RoundRecord> rounds() {
        return rounds;
    }

    /** Writes the Parquet tables; call once at the end of a run. */
    public void finish(SparkSession spark) {
        parquet(spark, "rounds.parquet", ROUNDS, rounds, RoundRecord::values);
        parquet(spark, "traffic.parquet", TRAFFIC, traffic, TrafficRecord::values);
        if (!alignment.isEmpty()) {
            parquet(spark, "alignment.parquet", ALIGNMENT, alignment, AlignmentRecord::values);
        }
        if (!events.isEmpty()) {
            parquet(spark, "events.parquet", EVENTS, events, EventRecord::values);
        }
    }

    private <T> void parquet(SparkSession spark, String name, StructType schema, List<T> rows, Function<T, Object[]> values) {
        List<Row> data = new ArrayList<>();
        for (T r : rows) {
            data.add(RowFactory.create(values.apply(r)));
        }
        Dataset<Row> df = spark.createDataFrame(data, schema);
        df.coalesce(1).write().mode(SaveMode.Overwrite).parquet(new Path(out, name).toString());
    }

    /** The rounds of the run whose output location is {@code location}, from its rounds.csv. */
    public static List<RoundRecord> readRounds(String location, Configuration conf) {
        return readCsv(new java.io.StringReader(read(location, conf, "rounds.csv")), RoundRecord.class, r -> true);
    }

    /** The rows of a rounds.csv this class wrote. */
    public static List<RoundRecord> readRounds(java.nio.file.Path csv) throws IOException {
        try (Reader in = Files.newBufferedReader(csv, StandardCharsets.UTF_8)) {
            return readCsv(in, RoundRecord.class, r -> true);
        }
    }

    /** The rows of CSV file {@code name} of the output that pass {@code keep}; none if it does not exist. */
    private <T extends Record> List<T> readCsv(String name, Class<T> type, java.util.function.Predicate<T> keep)
            throws IOException {
        Path p = new Path(out, name);
        if (!fs.exists(p)) {
            return List.of();
        }
        try (Reader in = new java.io.InputStreamReader(fs.open(p), StandardCharsets.UTF_8)) {
            return readCsv(in, type, keep);
        }
    }

    /** Rows written from a record's {@code values()}: columns in the order of its components, parsed by their types. */
    private static <T extends Record> List<T> readCsv(Reader in, Class<T> type, java.util.function.Predicate<T> keep) {
        CsvParserSettings settings = new CsvParserSettings();
        settings.setHeaderExtractionEnabled(true);
        java.lang.reflect.RecordComponent[] components = type.getRecordComponents();
        Class<?>[] types = java.util.Arrays.stream(components).map(java.lang.reflect.RecordComponent::getType)
                .toArray(Class<?>[]::new);
        List<T> rows = new ArrayList<>();
        try {
            java.lang.reflect.Constructor<T> make = type.getDeclaredConstructor(types);
            for (String[] fields : new CsvParser(settings).iterate(in)) {
                Object[] values = new Object[types.length];
                for (int i = 0; i < types.length; i++) {
                    // A column added later (rounds' participants) is missing from older files: a string reads as "".
                    values[i] = i >= fields.length ? (types[i] == String.class ? "" : null) : types[i] == int.class ? Integer.valueOf(fields[i]) : types[i] == long.class
                            ? Long.valueOf(fields[i]) : types[i] == double.class ? Double.valueOf(fields[i]) : fields[i];
                }
                T row = make.newInstance(values);
                if (keep.test(row)) {
                    rows.add(row);
                }
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read " + type.getSimpleName() + " rows: " + e.getMessage(), e);
        }
        return rows;
    }

    /** Replaces the file atomically, so that a notebook or a resumed run never reads half of it. */
    private <T> void writeCsv(String name, String[] header, List<T> rows, Function<T, Object[]> values) {
        java.io.StringWriter text = new java.io.StringWriter();
        CsvWriter csv = new CsvWriter(text, new CsvWriterSettings());
        csv.writeHeaders(header);
        for (T r : rows) {
            csv.writeRow(values.apply(r));
        }
        csv.close();
        try {
            HadoopFiles.replace(fs, new Path(out, name), text.toString().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + new Path(out, name) + ": " + e.getMessage(), e);
        }
    }

    public void write(String name, String text) throws IOException {
        write(name, text.getBytes(StandardCharsets.UTF_8));
    }

    public void write(String name, byte[] bytes) throws IOException {
        HadoopFiles.write(fs, new Path(out, name), bytes);
    }
}
