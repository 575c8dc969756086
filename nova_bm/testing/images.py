"""Tiny whole-disk images that boot and say which image they are.

The lab's instances: a raw disk with an MBR whose boot code prints one line
naming the image on the first serial port (COM1, written straight to its
I/O port: no BIOS service, no OS), then idles (``hlt``) and echoes each
character typed on COM1. A machine's serial log thus
shows which image its disk booted, within a second of power on under TCG.
The disk carries one partition (Nova's format inspector refuses a raw
whole-disk image without a partition table).
"""

SECTOR = 512
_COM1 = 0x3f8
_LOAD_ADDRESS = 0x7c00

# 16-bit real mode, loaded at 0:7c00 by the firmware (CS = DS = 0):
#         cli; cld; xor ax,ax; mov ds,ax; mov si,message; mov dx,0x3f8
#   next: lodsb; test al,al; jz setup; out dx,al; jmp next
#  setup: mov word [0x30],echo; mov word [0x32],0   ; IRQ 4 (int 0Ch)
#         mov dx,0x3f9; mov al,1; out dx,al          ; UART: rx interrupt
#         mov dx,0x3fc; mov al,0x0b; out dx,al       ; DTR, RTS, OUT2
#         mov al,0xef; out 0x21,al; nop; nop         ; IRQ 4 alone: the
#                     ; firmware's timer stays masked (SeaBIOS would print
#                     ; what it still buffers after the marker)
#         sti
#   idle: hlt; jmp idle                              ; idle, not spinning
#   echo: push ax; push dx; mov dx,0x3fd
#   more: in al,dx; test al,1; jz done               ; a character?
#         mov dx,0x3f8; in al,dx; out dx,al; jmp echo+2 (mov dx,0x3fd)
#   done: mov al,0x20; out 0x20,al; pop dx; pop ax; iret
# So the image answers on its console too: what is typed comes back.
_ECHO_OFFSET = 54
_CODE_LENGTH = 78


def _boot_code(message_address):
    echo = _LOAD_ADDRESS + _ECHO_OFFSET
    return bytes([
        0xfa, 0xfc, 0x31, 0xc0, 0x8e, 0xd8,
        0xbe, message_address & 0xff, message_address >> 8,
        0xba, _COM1 & 0xff, _COM1 >> 8,
        0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8,
        0xc7, 0x06, 0x30, 0x00, echo & 0xff, echo >> 8,
        0xc7, 0x06, 0x32, 0x00, 0x00, 0x00,
        0xba, 0xf9, 0x03, 0xb0, 0x01, 0xee,
        0xba, 0xfc, 0x03, 0xb0, 0x0b, 0xee,
        0xb0, 0xef, 0xe6, 0x21, 0x90, 0x90,
        0xfb,
        0xf4, 0xeb, 0xfd,
        # echo (offset 54)
        0x50, 0x52,
        0xba, 0xfd, 0x03,
        0xec, 0xa8, 0x01, 0x74, 0x07,
        0xba, 0xf8, 0x03, 0xec, 0xee,
        0xeb, 0xf1,
        0xb0, 0x20, 0xe6, 0x20,
        0x5a, 0x58, 0xcf])


def marker(label):
    """The line an image labelled ``label`` prints when it boots."""
    return 'nova-bm-lab: image %s booted from disk' % label


def boot_disk_image(label, size=1 << 20):
    """A raw disk image of ``size`` bytes (a multiple of 512, at least 2
    sectors) that prints ``marker(label)`` when booted. ``label``: ASCII,
    up to 64 characters. The label is also written at the image's end, so a
    disk can be told apart by its last bytes too."""
    if size % SECTOR or size < 2 * SECTOR:
        raise ValueError('size must be a multiple of 512, at least 1024')
    if len(label) > 64:
        raise ValueError('label longer than 64 characters')
    text = marker(label).encode('ascii')
    code = _boot_code(_LOAD_ADDRESS + _CODE_LENGTH)
    assert len(code) == _CODE_LENGTH
    image = bytearray(size)
    boot = code + text + b'\r\n\0'
    image[:len(boot)] = boot
    # One Linux partition from sector 1 to the end.
    sectors = size // SECTOR - 1
    image[446:462] = (bytes([0x00, 0, 2, 0, 0x83, 0, 0, 0])
                      + (1).to_bytes(4, 'little')
                      + sectors.to_bytes(4, 'little'))
    image[510:512] = b'\x55\xaa'
    image[-len(text):] = text
    return bytes(image)
