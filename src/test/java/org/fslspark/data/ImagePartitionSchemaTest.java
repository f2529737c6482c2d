package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** data-schemas/image-partition.json is the documented schema; the code must write exactly it. */
class ImagePartitionSchemaTest {
    private static final Path SCHEMA = Path.of("data-schemas/image-partition.json");

    @TempDir
    Path dir;

    private static StructType documented() throws IOException {
        return (StructType) DataType.fromJson(Files.readString(SCHEMA));
    }

    private static DataType sparkType(PrimitiveType t) {
        return switch (t.getPrimitiveTypeName()) {
            case INT64 -> DataTypes.LongType;
            case INT32 -> DataTypes.IntegerType;
            case BINARY -> DataTypes.BinaryType;
            default -> throw new AssertionError("unexpected Parquet type " + t);
        };
    }

    @Test
    void theParquetSchemaTheCodeWritesIsTheDocumentedOne() throws IOException {
        MessageType written = ParquetImages.schema(null);
        StructType doc = documented();
        assertEquals(doc.fields().length, written.getFieldCount());
        for (int i = 0; i < doc.fields().length; i++) {
            StructField f = doc.fields()[i];
            Type t = written.getType(i);
            assertEquals(f.name(), t.getName());
            assertEquals(f.dataType(), sparkType(t.asPrimitiveType()), f.name());
            assertEquals(f.nullable(), !t.isRepetition(Type.Repetition.REQUIRED), f.name());
        }
    }

    @Test
    void sparkReadsAPreparedShareWithTheDocumentedSchema() throws IOException {
        LabeledImages data = TestData.images(12, 1, 3, 3, 4, 5);
        Path loc = dir.resolve("osu");
        PartitionStore.write(new Configuration(), TestData.hadoop(loc), "osu", "synthetic", data, false);
        // Spark's INFO chatter would bury the data suite's output; this test only needs errors.
        org.apache.logging.log4j.core.config.Configurator.setRootLevel(org.apache.logging.log4j.Level.WARN);
        SparkSession spark = SparkSession.builder().master("local[1]").appName("schema-test")
                .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1").getOrCreate();
        try {
            Dataset<Row> df = spark.read().parquet(loc.toString());
            StructType doc = documented();
            assertEquals(List.of(doc.fieldNames()), List.of(df.schema().fieldNames()));
            for (StructField f : doc.fields()) {
                assertEquals(f.dataType(), df.schema().apply(f.name()).dataType(), f.name());
            }
            List<Row> rows = df.orderBy("sample_id").collectAsList();
            assertEquals(12, rows.size());
            for (int i = 0; i < rows.size(); i++) {
                assertEquals(i, rows.get(i).getLong(0));
                assertEquals(data.labels()[i], rows.get(i).getInt(1));
                assertArrayEquals(data.image(i), (byte[]) rows.get(i).get(2));
            }
        } finally {
            spark.stop();
        }
    }
}
