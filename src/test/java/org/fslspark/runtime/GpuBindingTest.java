package org.fslspark.runtime;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** How a Spark GPU address becomes the CUDA device ND4J is set to. */
class GpuBindingTest {
    @Test
    void anAddressIsItsIndexAmongTheVisibleDevices() {
        assertEquals(3, GpuBinding.device("3", null));
        assertEquals(3, GpuBinding.device("3", ""));
        // A process that sees devices 2 and 3 numbers them 0 and 1.
        assertEquals(1, GpuBinding.device("3", "2,3"));
        assertEquals(0, GpuBinding.device(" 2", "2, 3"));
        assertThrows(IllegalStateException.class, () -> GpuBinding.device("GPU-8a1f", "0,1"));
    }

    @Test
    void outsideATaskNothingIsBound() {
        assertNull(GpuBinding.bindTask());
        assertNull(GpuBinding.current());
    }
}
