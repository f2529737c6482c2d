package org.fslspark.metrics;

import com.univocity.parsers.csv.CsvParser;
import com.univocity.parsers.csv.CsvParserSettings;
import com.univocity.parsers.csv.CsvWriter;
import com.univocity.parsers.csv.CsvWriterSettings;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
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
            DataTypes.DoubleType});
    public static final StructType TRAFFIC = schema(TrafficRecord.COLUMNS, new DataType[]{DataTypes.StringType,
            DataTypes.StringType, DataTypes.IntegerType, DataTypes.StringType, DataTypes.StringType,
            DataTypes.StringType, DataTypes.LongType, DataTypes.LongType, DataTypes.LongType});

    public static final StructType ALIGNMENT = schema(AlignmentRecord.COLUMNS, new DataType[]{DataTypes.StringType,
            DataTypes.StringType, DataTypes.IntegerType, DataTypes.StringType, DataTypes.IntegerType,
            DataTypes.DoubleType, DataTypes.DoubleType, DataTypes.DoubleType, DataTypes.DoubleType,
            DataTypes.DoubleType, DataTypes.DoubleType});

    private final Path out;
    private final FileSystem fs;
    private final List<RoundRecord> rounds = new ArrayList<>();
    private final List<TrafficRecord> traffic = new ArrayList<>();
    private final List<AlignmentRecord> alignment = new ArrayList<>();

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
        this.out = new Path(location);
        try {
            this.fs = out.getFileSystem(conf);
            if (fs.exists(out)) {
                if (!overwrite) {
                    throw new IllegalArgumentException("output location " + out + " already exists; choose another --out or pass --overwrite");
                }
                fs.delete(out, true);
            }
            if (!fs.mkdirs(out)) {
                throw new IOException("mkdirs returned false");
            }
            write("config", resolvedConfig);
        } catch (IOException | RuntimeException e) {
            if (e instanceof IllegalArgumentException) {
                throw (IllegalArgumentException) e;
            }
            throw new IllegalArgumentException("cannot write to output location " + out + ": " + e.getMessage(), e);
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
    }

    private <T> void parquet(SparkSession spark, String name, StructType schema, List<T> rows, Function<T, Object[]> values) {
        List<Row> data = new ArrayList<>();
        for (T r : rows) {
            data.add(RowFactory.create(values.apply(r)));
        }
        Dataset<Row> df = spark.createDataFrame(data, schema);
        df.coalesce(1).write().mode(SaveMode.Overwrite).parquet(new Path(out, name).toString());
    }

    /** The rows of a rounds.csv this class wrote. */
    public static List<RoundRecord> readRounds(java.nio.file.Path csv) throws IOException {
        CsvParserSettings settings = new CsvParserSettings();
        settings.setHeaderExtractionEnabled(true);
        List<RoundRecord> rounds = new ArrayList<>();
        try (Reader in = Files.newBufferedReader(csv, StandardCharsets.UTF_8)) {
            for (var r : new CsvParser(settings).iterateRecords(in)) {
                rounds.add(new RoundRecord(r.getString("experiment"), r.getString("algorithm"), r.getInt("round"),
                        r.getDouble("test_accuracy"), r.getDouble("test_loss"), r.getLong("payload_bytes_up"),
                        r.getLong("payload_bytes_down"), r.getLong("label_bytes_up"), r.getLong("wire_bytes_up"),
                        r.getLong("wire_bytes_down"), r.getLong("cumulative_payload_bytes"),
                        r.getLong("cumulative_wire_bytes"), r.getDouble("round_seconds"), r.getDouble("cumulative_seconds"),
                        r.getDouble("test_perplexity"), r.getDouble("modelled_seconds"),
                        r.getDouble("cumulative_modelled_seconds")));
            }
        }
        return rounds;
    }

    private <T> void writeCsv(String name, String[] header, List<T> rows, Function<T, Object[]> values) {
        try (FSDataOutputStream stream = fs.create(new Path(out, name), true);
             OutputStreamWriter w = new OutputStreamWriter(stream, StandardCharsets.UTF_8)) {
            CsvWriter csv = new CsvWriter(w, new CsvWriterSettings());
            csv.writeHeaders(header);
            for (T r : rows) {
                csv.writeRow(values.apply(r));
            }
            csv.flush();
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + new Path(out, name) + ": " + e.getMessage(), e);
        }
    }

    public void write(String name, String text) throws IOException {
        try (FSDataOutputStream stream = fs.create(new Path(out, name), true)) {
            stream.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    public void write(String name, byte[] bytes) throws IOException {
        try (FSDataOutputStream stream = fs.create(new Path(out, name), true)) {
            stream.write(bytes);
        }
    }
}
